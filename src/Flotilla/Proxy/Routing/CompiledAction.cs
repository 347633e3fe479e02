using System.Collections.Frozen;
using System.Globalization;
using System.Net;
using System.Text;
using Flotilla.Core.Spec;
using Yarp.ReverseProxy.Forwarder;

namespace Flotilla.Proxy.Routing;

/// <summary>A rule's action, precompiled: what the request path needs, and nothing to compute per request.</summary>
internal abstract class CompiledAction
{
    public static CompiledAction Compile(RuleAction action, TimeSpan? ruleTimeout, FrozenDictionary<string, ServiceSpec> services) => action switch
    {
        ForwardAction forward => new ForwardPlan(forward, ruleTimeout, services),
        FixedResponseAction fixedResponse => new FixedResponsePlan(fixedResponse),
        RedirectAction redirect => new RedirectPlan(redirect),
        _ => throw new ArgumentException($"unknown rule action {action.GetType().Name}", nameof(action)),
    };
}

/// <summary>
/// Forward to one service, or to one of several chosen by weight per request. Each service has its own forwarding
/// settings: the idle timeout after which YARP answers 504 is the rule's, else the service's.
/// </summary>
internal sealed class ForwardPlan : CompiledAction
{
    private readonly Destination[] _destinations;
    private readonly int _total;

    public ForwardPlan(ForwardAction action, TimeSpan? ruleTimeout, FrozenDictionary<string, ServiceSpec> services)
    {
        var cumulative = 0;
        _destinations = action.Services
            .Where(s => s.Weight > 0)
            .Select(s => new Destination(s.Service, cumulative += s.Weight, ruleTimeout ?? services[s.Service].Timeout))
            .ToArray();
        _total = cumulative;
    }

    /// <summary>The service for this request (by weight when there are several) and how to forward to it.</summary>
    public Destination Choose(Random random)
    {
        if (_destinations.Length == 1)
        {
            return _destinations[0];
        }

        var ticket = random.Next(_total);
        foreach (var destination in _destinations)
        {
            if (ticket < destination.CumulativeWeight)
            {
                return destination;
            }
        }

        return _destinations[^1];
    }

    private static ForwarderRequestConfig Config(TimeSpan timeout) => new()
    {
        ActivityTimeout = timeout,
        Version = HttpVersion.Version11,
        VersionPolicy = HttpVersionPolicy.RequestVersionOrLower,
    };

    /// <param name="Service">The service to forward to.</param>
    /// <param name="CumulativeWeight">The weights of this and the destinations before it, for the draw.</param>
    /// <param name="Timeout">How long the task may keep the request waiting for its next bytes (504 when it does).</param>
    internal sealed record Destination(string Service, int CumulativeWeight, TimeSpan Timeout)
    {
        /// <summary>YARP's settings for the full request path.</summary>
        public ForwarderRequestConfig Config { get; } = Config(Timeout);
    }
}

internal sealed class FixedResponsePlan(FixedResponseAction action) : CompiledAction
{
    public int Status { get; } = action.Status;

    public string ContentType { get; } = action.ContentType;

    public byte[] Body { get; } = Encoding.UTF8.GetBytes(action.Body);
}

internal sealed class RedirectPlan(RedirectAction action) : CompiledAction
{
    public int Status { get; } = action.Status;

    public string Location { get; } = action.Location;

    /// <summary>
    /// The location for a request: its <paramref name="scheme"/>, <paramref name="host"/> (the Host header, whose port,
    /// when it has none, is the scheme's), <paramref name="path"/> and <paramref name="query"/> (with its '?', or empty).
    /// </summary>
    public string LocationFor(string scheme, string host, string path, string query)
    {
        var authority = new HostString(host);
        var port = authority.Port ?? (scheme == "https" ? 443 : 80);
        return RedirectTemplate.Expand(Location, new RedirectTemplate.RequestParts(scheme, authority.Host, port.ToString(CultureInfo.InvariantCulture), path, query));
    }
}
