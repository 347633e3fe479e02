using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Connections.Features;
using Microsoft.AspNetCore.Routing.Matching;
using Yarp.ReverseProxy.Model;

namespace Flotilla.Proxy;

/// <summary>
/// Restricts each rule to the listener it was written under. Every listener shares one YARP instance (so a service's
/// in-flight counts are one number whichever listener the request came through); this policy removes the candidates
/// of other listeners, by the listener name that each accepted connection is tagged with.
/// </summary>
internal sealed class ListenerMatcherPolicy : MatcherPolicy, IEndpointSelectorPolicy
{
    public const string MetadataKey = "flotilla.listener";

    private static readonly object ConnectionItemKey = new();

    public override int Order => 0;

    /// <summary>Kestrel connection middleware that tags each connection with its listener's name.</summary>
    public static Func<ConnectionDelegate, ConnectionDelegate> TagConnections(string listener) =>
        next => connection =>
        {
            connection.Items[ConnectionItemKey] = listener;
            return next(connection);
        };

    /// <summary>The name of the listener that accepted the request's connection.</summary>
    public static string ListenerOf(HttpContext context) =>
        context.Features.Get<IConnectionItemsFeature>()?.Items.TryGetValue(ConnectionItemKey, out var name) == true ? (string)name! : "";

    public bool AppliesToEndpoints(IReadOnlyList<Endpoint> endpoints) =>
        endpoints.Any(e => e.Metadata.GetMetadata<RouteModel>() is not null);

    public Task ApplyAsync(HttpContext httpContext, CandidateSet candidates)
    {
        var listener = ListenerOf(httpContext);
        for (var i = 0; i < candidates.Count; i++)
        {
            if (candidates.IsValidCandidate(i)
                && candidates[i].Endpoint.Metadata.GetMetadata<RouteModel>()?.Config.Metadata?.GetValueOrDefault(MetadataKey) is { } owner
                && owner != listener)
            {
                candidates.SetValidity(i, false);
            }
        }

        return Task.CompletedTask;
    }
}
