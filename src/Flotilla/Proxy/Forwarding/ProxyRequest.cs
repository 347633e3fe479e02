using System.Net;
using Flotilla.Proxy.Routing;
using Flotilla.Proxy.Targets;

namespace Flotilla.Proxy.Forwarding;

/// <summary>
/// Everything the load balancer decides and measures about one request: made once at its start, read by the forwarding
/// transformer, then handed whole to the access log. One allocation per request carries it all.
/// </summary>
internal sealed class ProxyRequest : IClientAddressFeature
{
    public required string Listener { get; init; }

    public required long StartTimestamp { get; init; }

    public required DateTimeOffset StartTime { get; init; }

    public required string RequestId { get; init; }

    public required IPAddress Address { get; init; }

    /// <summary>The connection's peer is a trusted proxy, whose X-Forwarded-* headers are kept and extended.</summary>
    public required bool FromTrustedProxy { get; init; }

    public required string Scheme { get; init; }

    public required TraceContext Trace { get; init; }

    public CompiledRule? Rule { get; set; }

    public string Service { get; set; } = "";

    public Target? Target { get; set; }

    public int StatusCode { get; set; }

    /// <summary>From forwarding to the task to the end of its response.</summary>
    public TimeSpan UpstreamTime { get; set; }

    public long EndTimestamp { get; set; }

    public long BytesIn { get; set; }

    public long BytesOut { get; set; }

    public string Method { get; init; } = "";

    public string Host { get; init; } = "";

    public string Path { get; init; } = "";

    public string UserAgent { get; init; } = "";
}
