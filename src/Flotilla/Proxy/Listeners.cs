using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Connections.Features;

namespace Flotilla.Proxy;

/// <summary>Which listener accepted a request: every connection is tagged with its listener's name when accepted.</summary>
internal static class Listeners
{
    private static readonly object ConnectionItemKey = new();

    /// <summary>Kestrel connection middleware that tags each connection with its listener's name.</summary>
    public static Func<ConnectionDelegate, ConnectionDelegate> TagConnections(string listener) =>
        next => connection =>
        {
            connection.Items[ConnectionItemKey] = listener;
            return next(connection);
        };

    /// <summary>The name of the listener that accepted the request's connection.</summary>
    public static string Of(HttpContext context) =>
        context.Features.Get<IConnectionItemsFeature>()?.Items.TryGetValue(ConnectionItemKey, out var name) == true ? (string)name! : "";
}
