using Flotilla.Core.LoadBalancing;
using Flotilla.Proxy.Targets;

namespace Flotilla.Proxy.LoadBalancing;

/// <summary>
/// <c>weighted_round_robin</c>: each eligible task in proportion to its effective weight (its weight, ramped during slow
/// start), interleaved by nginx's smooth weighted round robin so that a heavy task never takes a burst.
/// </summary>
internal sealed class WeightedRoundRobinPolicy : ILoadBalancingPolicy
{
    private static readonly Func<Target, long, double> EffectiveWeight = static (target, timestamp) => target.EffectiveWeight(timestamp);

    private readonly PerTargetSet<SmoothWeightedRoundRobin> _schedules = new(static targets => new SmoothWeightedRoundRobin(targets));

    public string Name => LoadBalancingNames.WeightedRoundRobin;

    public Target Pick(IRequestFields request, TargetSet targets, long timestamp) =>
        _schedules.For(targets).Pick(EffectiveWeight, timestamp);
}
