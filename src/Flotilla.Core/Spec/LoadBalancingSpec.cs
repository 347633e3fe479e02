using Flotilla.Core.LoadBalancing;

namespace Flotilla.Core.Spec;

/// <summary>
/// How the load balancer picks one of a service's healthy tasks for each request. Written either as the algorithm's
/// name (<c>loadBalancing: least_requests</c>) or as a mapping with options
/// (<c>loadBalancing: { algorithm: consistent_hash, hashOn: "header:X-User", boundedLoad: 1.25 }</c>).
/// </summary>
public sealed record LoadBalancingSpec
{
    public const string HashOnClientIp = "client_ip";
    public const string HashOnHeaderPrefix = "header:";
    public const string HashOnCookiePrefix = "cookie:";

    /// <summary>One of <see cref="LoadBalancingNames.All"/>. Default <c>round_robin</c>.</summary>
    public string Algorithm { get; init; } = LoadBalancingNames.RoundRobin;

    /// <summary>
    /// <c>consistent_hash</c> only: what to hash — <c>client_ip</c> (default), <c>header:NAME</c> or <c>cookie:NAME</c>.
    /// A request without that header or cookie is hashed on its client IP.
    /// </summary>
    public string HashOn { get; init; } = HashOnClientIp;

    /// <summary>
    /// <c>consistent_hash</c> only: points on the ring per task. Default 160 (ketama's and nginx's points per server;
    /// Envoy sizes the whole ring instead, at least 1024 points), 1 to 1000.
    /// </summary>
    public int VirtualNodes { get; init; } = 160;

    /// <summary>
    /// <c>consistent_hash</c> only: consistent hashing with bounded loads — no task takes more than this factor times the
    /// average in-flight requests; the next task on the ring takes the excess. Default off; e.g. 1.25; from 1.01 to 10.
    /// </summary>
    public double? BoundedLoad { get; init; }
}
