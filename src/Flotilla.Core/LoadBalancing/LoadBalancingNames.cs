using System.Collections.Immutable;

namespace Flotilla.Core.LoadBalancing;

/// <summary>
/// The names a service's <c>loadBalancing</c> may take. Each name has one policy in the proxy
/// (<c>Flotilla.Proxy.LoadBalancing</c>), registered under that name.
/// </summary>
public static class LoadBalancingNames
{
    /// <summary>Each healthy task in turn.</summary>
    public const string RoundRobin = "round_robin";

    /// <summary>Each healthy task in proportion to its weight, interleaved (smooth) rather than in bursts.</summary>
    public const string WeightedRoundRobin = "weighted_round_robin";

    /// <summary>The healthy task with the fewest requests in flight; ties go round-robin.</summary>
    public const string LeastRequests = "least_requests";

    /// <summary>The less busy (fewer in flight) of two tasks picked at random: near least-requests, with no herd.</summary>
    public const string PowerOfTwo = "power_of_two";

    /// <summary>A task picked uniformly at random.</summary>
    public const string Random = "random";

    /// <summary>The client's IP address modulo the number of tasks: a client sticks to a task while the set is unchanged.</summary>
    public const string IpHash = "ip_hash";

    /// <summary>A hash ring with virtual nodes: a key (client IP, header or cookie) sticks to a task, and few keys move when tasks come or go.</summary>
    public const string ConsistentHash = "consistent_hash";

    /// <summary>The task with the lowest peak-EWMA latency × (in flight + 1).</summary>
    public const string LeastResponseTime = "least_response_time";

    public static ImmutableArray<string> All { get; } =
        [RoundRobin, WeightedRoundRobin, LeastRequests, PowerOfTwo, Random, IpHash, ConsistentHash, LeastResponseTime];
}
