using Flotilla.Core.LoadBalancing;
using Flotilla.Proxy.Targets;

namespace Flotilla.Proxy.LoadBalancing;

/// <summary><c>random</c>: a task drawn uniformly at random, weights ignored. Needs no shared state at all.</summary>
internal sealed class RandomPolicy(Random random) : ILoadBalancingPolicy
{
    public string Name => LoadBalancingNames.Random;

    public Target Pick(IRequestFields request, TargetSet targets, long timestamp) => targets[random.Next(targets.Count)];
}
