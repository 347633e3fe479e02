using System.Collections.Immutable;

namespace Flotilla.Core.Spec;

/// <summary>The whole spec: one file describes the admin API, the load balancer's listeners and the services.</summary>
public sealed record FlotillaSpec
{
    /// <summary>The admin API. Default: listens on <c>127.0.0.1:9400</c>.</summary>
    public AdminSpec Admin { get; init; } = new();

    /// <summary>The load balancer's listeners. Default: none (the fleet runs with no load balancer in front).</summary>
    public ImmutableArray<ListenerSpec> Listeners { get; init; } = [];

    /// <summary>The services to run, in the order the file gives them. Default: none.</summary>
    public ImmutableArray<ServiceSpec> Services { get; init; } = [];

    /// <summary>The load balancer's access log. Default: on, to <c>access.log</c> in the state directory.</summary>
    public AccessLogSpec AccessLog { get; init; } = new();

    /// <summary>The load balancer's limits on its clients, for all its listeners: how many connections, and how long it waits.</summary>
    public LoadBalancerSpec LoadBalancer { get; init; } = new();

    public ServiceSpec? FindService(string name) => Services.FirstOrDefault(s => s.Name == name);
}

/// <summary>The admin API: REST under <c>/api/v1</c>, <c>/metrics</c> and <c>/healthz</c>.</summary>
public sealed record AdminSpec
{
    /// <summary>
    /// Where the admin API listens. Default <c>127.0.0.1:9400</c>: loopback, so that only this machine can reach it.
    /// </summary>
    public ListenAddress Listen { get; init; } = new("127.0.0.1", 9400);
}

/// <summary>
/// The load balancer's limits on its clients, for every listener and both of its paths: how many connections it holds
/// (HAProxy's <c>maxconn</c>) and how long it waits for them (Kestrel's limits of the same names, HAProxy's
/// <c>timeout http-keep-alive</c> and <c>timeout http-request</c>). A restart applies a change.
/// </summary>
public sealed record LoadBalancerSpec
{
    /// <summary>Kestrel's default keep-alive timeout, which Flotilla keeps.</summary>
    public static readonly TimeSpan DefaultKeepAliveTimeout = TimeSpan.FromSeconds(130);

    /// <summary>Kestrel's default request-headers timeout, which Flotilla keeps.</summary>
    public static readonly TimeSpan DefaultRequestTimeout = TimeSpan.FromSeconds(30);

    /// <summary>
    /// The most client connections held at once, across listeners; more wait in the listen backlog (HTTPS: are closed)
    /// until some close. Default null: half of the open-files limit left after a reserve. 1 to 10,000,000.
    /// </summary>
    public int? MaxConnections { get; init; }

    /// <summary>How long a client connection may wait for its next request (or its first) before it is closed. Default 130s; 1s to 1h.</summary>
    public TimeSpan KeepAliveTimeout { get; init; } = DefaultKeepAliveTimeout;

    /// <summary>
    /// How long a client may take to send a request once its first byte is in: the head, and on the fast path a body it
    /// buffers. Past it the client gets 408 and the connection closes. Default 30s; 1s to 5m.
    /// </summary>
    public TimeSpan RequestTimeout { get; init; } = DefaultRequestTimeout;
}

/// <summary>One JSON line per request answered by the load balancer.</summary>
public sealed record AccessLogSpec
{
    /// <summary>Write the access log. Default true.</summary>
    public bool Enabled { get; init; } = true;

    /// <summary>Also write each line to Flotilla's standard output. Default false.</summary>
    public bool Stdout { get; init; }

    /// <summary>
    /// The largest <c>access.log</c> grows, in bytes: a line that would take it past this goes to a fresh file, and the
    /// full one becomes <c>access.log.1</c>. Default 100 MB; 1 MB to 1 TB.
    /// </summary>
    public long MaxSize { get; init; } = 100_000_000;

    /// <summary>How many rotated files to keep (<c>access.log.1</c>, the newest, to <c>access.log.N</c>); older ones are deleted. Default 5; 1 to 100.</summary>
    public int MaxFiles { get; init; } = 5;
}
