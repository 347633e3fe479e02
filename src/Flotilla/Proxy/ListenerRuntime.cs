using System.Net;
using Flotilla.Core.Spec;
using Flotilla.Proxy.Forwarding;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Connections.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;

namespace Flotilla.Proxy;

/// <summary>
/// A listener as the request path needs it. Each accepted connection is tagged with its listener's runtime, so a request
/// finds its listener's settings with one lookup, whatever address or port it came in on.
/// </summary>
internal sealed class ListenerRuntime(ListenerSpec spec)
{
    private static readonly object ConnectionItemKey = new();

    private volatile Settings _settings = new(spec, TrustedProxies.For(spec));

    /// <summary>The listener's spec: its rules and per-request settings may change with an apply; its sockets may not.</summary>
    public ListenerSpec Spec => _settings.Spec;

    public TrustedProxies Trusted => _settings.Trusted;

    public string Name { get; } = spec.Name;

    public string Scheme { get; } = spec.Protocol == ListenerProtocol.Https ? "https" : "http";

    public bool RedirectsToHttps { get; } = spec.Redirect == "https";

    /// <summary>Kestrel's endpoint, for a listener whose socket Kestrel binds.</summary>
    public ListenOptions? Endpoint { get; set; }

    /// <summary>The fast path's own socket, for a listener whose socket its event loops serve.</summary>
    public IPEndPoint? FastPathEndPoint { get; set; }

    /// <summary>Where the listener is bound once it is (port 0 resolved).</summary>
    public IPEndPoint? BoundEndPoint => FastPathEndPoint ?? Endpoint?.IPEndPoint;

    public string Address => $"{Scheme}://{BoundEndPoint}";

    public static ListenerRuntime Of(HttpContext context) =>
        (ListenerRuntime)context.Features.Get<IConnectionItemsFeature>()!.Items[ConnectionItemKey]!;

    /// <summary>Takes an applied spec's settings; connections already open see them from their next request.</summary>
    public void Update(ListenerSpec spec) => _settings = new Settings(spec, TrustedProxies.For(spec));

    /// <summary>Kestrel connection middleware that tags each connection with this listener.</summary>
    public Func<ConnectionDelegate, ConnectionDelegate> TagConnections() =>
        next => connection =>
        {
            connection.Items[ConnectionItemKey] = this;
            return next(connection);
        };

    /// <summary>Spec and trusted proxies, swapped together.</summary>
    private sealed record Settings(ListenerSpec Spec, TrustedProxies Trusted);
}

/// <summary>Every listener's runtime, by name, and where they are bound.</summary>
internal sealed class ListenerDirectory(FlotillaSpec spec)
{
    public IReadOnlyList<ListenerRuntime> All { get; } = spec.Listeners.Select(l => new ListenerRuntime(l)).ToList();

    /// <summary>Takes an applied spec's listener settings (the plan has refused any change that needs a restart).</summary>
    public void Update(FlotillaSpec applied)
    {
        foreach (var listener in All)
        {
            if (applied.Listeners.FirstOrDefault(l => l.Name == listener.Name) is { } spec)
            {
                listener.Update(spec);
            }
        }
    }

    /// <summary>Each listener's bound address, e.g. <c>http://127.0.0.1:8080</c>.</summary>
    public IReadOnlyDictionary<string, string> Addresses => All.Where(l => l.BoundEndPoint is not null).ToDictionary(l => l.Name, l => l.Address);

    /// <summary>The port of the first https listener, where <c>redirect: https</c> sends clients.</summary>
    public int? HttpsPort => All.FirstOrDefault(l => l.Scheme == "https")?.BoundEndPoint?.Port;
}
