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

    /// <summary>The healthy task with the fewest requests in flight; ties go round-robin.</summary>
    public const string LeastRequests = "least_requests";

    public static ImmutableArray<string> All { get; } = [RoundRobin, LeastRequests];
}
