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

/// <summary>A port the load balancer accepts client traffic on, and the rules that route it.</summary>
public sealed record ListenerSpec
{
    /// <summary>Required. Lower-case letters, digits and '-'; unique among listeners.</summary>
    public required string Name { get; init; }

    /// <summary>Required. <c>host:port</c> to accept on.</summary>
    public required ListenAddress Listen { get; init; }

    /// <summary>Required, at least one. Evaluated in order; the first rule that matches forwards the request.</summary>
    public ImmutableArray<RuleSpec> Rules { get; init; } = [];
}

/// <summary>A match on the request and the service it forwards to.</summary>
public sealed record RuleSpec
{
    /// <summary>
    /// Path prefix, matched on whole segments: <c>/api/orders</c> matches <c>/api/orders</c> and <c>/api/orders/7</c>,
    /// not <c>/api/ordersX</c>. Default <c>/</c> (every path).
    /// </summary>
    public string Path { get; init; } = "/";

    /// <summary>Host to match (<c>shop.example.com</c> or <c>*.example.com</c>), without port. Default: any host.</summary>
    public string? Host { get; init; }

    /// <summary>Required. The service that receives matching requests.</summary>
    public required string Service { get; init; }
}
