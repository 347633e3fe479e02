using Flotilla.Core.LoadBalancing;
using Flotilla.Proxy.Targets;

namespace Flotilla.Proxy.LoadBalancing;

/// <summary>
/// <c>least_requests</c>: the eligible task with the fewest requests in flight for its weight — Envoy's weighted least
/// request, which ranks by <c>weight / (in flight + 1)</c>, so a task of weight 2 is as loaded at 3 in flight as one
/// of weight 1 at 1, and a task in slow start (its weight ramped down) fills up sooner. With equal weights this is
/// plain fewest-in-flight. The scan starts at a rotating offset, so ties — the normal case under light load, when
/// every task has 0 in flight — go round-robin instead of always to the first task.
/// </summary>
internal sealed class LeastRequestsPolicy : ILoadBalancingPolicy
{
    private readonly Rotation _rotation = new();

    public string Name => LoadBalancingNames.LeastRequests;

    public Target Pick(IRequestFields request, TargetSet targets, long timestamp)
    {
        var count = targets.Count;
        var start = _rotation.Next(count);
        var best = targets[start];
        var bestCapacity = Capacity(best, timestamp);
        for (var i = 1; i < count; i++)
        {
            var candidate = targets[(start + i) % count];
            var capacity = Capacity(candidate, timestamp);
            if (capacity > bestCapacity)
            {
                best = candidate;
                bestCapacity = capacity;
            }
        }

        return best;
    }

    /// <summary>
    /// How much of its weight one more request would get: Envoy's <c>weight / (active_requests + 1)^bias</c> with the
    /// default bias of 1. Higher is less loaded.
    /// </summary>
    public static double Capacity(Target target, long timestamp) => target.EffectiveWeight(timestamp) / (target.InFlight + 1);
}
