using Flotilla.Core.LoadBalancing;
using Flotilla.Proxy.Targets;

namespace Flotilla.Proxy.LoadBalancing;

/// <summary><c>round_robin</c>: each eligible task in turn.</summary>
internal sealed class RoundRobinPolicy : ILoadBalancingPolicy
{
    private int _next = -1;

    public string Name => LoadBalancingNames.RoundRobin;

    public Target Pick(HttpContext context, TargetSet targets, long timestamp) =>
        targets[(int)((uint)Interlocked.Increment(ref _next) % (uint)targets.Count)];
}
