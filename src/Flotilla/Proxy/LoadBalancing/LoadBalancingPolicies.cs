using System.Collections.Frozen;
using Flotilla.Core.LoadBalancing;
using Flotilla.Core.Spec;

namespace Flotilla.Proxy.LoadBalancing;

/// <summary>Every load-balancing policy, registered under its spec name.</summary>
internal static class LoadBalancingPolicies
{
    private static readonly FrozenDictionary<string, Func<LoadBalancingSpec, Random, ILoadBalancingPolicy>> Factories =
        new Dictionary<string, Func<LoadBalancingSpec, Random, ILoadBalancingPolicy>>
        {
            [LoadBalancingNames.RoundRobin] = (_, _) => new RoundRobinPolicy(),
            [LoadBalancingNames.WeightedRoundRobin] = (_, _) => new WeightedRoundRobinPolicy(),
            [LoadBalancingNames.LeastRequests] = (_, _) => new LeastRequestsPolicy(),
            [LoadBalancingNames.PowerOfTwo] = (_, random) => new PowerOfTwoPolicy(random),
            [LoadBalancingNames.Random] = (_, random) => new RandomPolicy(random),
            [LoadBalancingNames.IpHash] = (_, _) => new IpHashPolicy(),
            [LoadBalancingNames.ConsistentHash] = (spec, _) => new ConsistentHashPolicy(spec),
            [LoadBalancingNames.LeastResponseTime] = (_, _) => new LeastResponseTimePolicy(),
        }.ToFrozenDictionary();

    public static IEnumerable<string> Names => Factories.Keys;

    /// <summary>A new policy instance for one service.</summary>
    /// <param name="spec">The service's <c>loadBalancing</c>.</param>
    /// <param name="random">The source of randomness (seeded in tests); must be thread-safe in production (<see cref="Random.Shared"/>).</param>
    public static ILoadBalancingPolicy Create(LoadBalancingSpec spec, Random random) =>
        Factories.TryGetValue(spec.Algorithm, out var create)
            ? create(spec, random)
            : throw new ArgumentException($"unknown load-balancing algorithm '{spec.Algorithm}'; valid: {string.Join(", ", LoadBalancingNames.All)}", nameof(spec));
}
