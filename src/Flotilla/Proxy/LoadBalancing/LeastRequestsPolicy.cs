using Flotilla.Core.LoadBalancing;
using Flotilla.Proxy.Targets;

namespace Flotilla.Proxy.LoadBalancing;

/// <summary>
/// <c>least_requests</c>: the eligible task with the fewest requests in flight. The scan starts at a rotating offset, so
/// ties — the normal case under light load, when every task has 0 in flight — go round-robin instead of always to the
/// first task.
/// </summary>
internal sealed class LeastRequestsPolicy : ILoadBalancingPolicy
{
    private int _next = -1;

    public string Name => LoadBalancingNames.LeastRequests;

    public Target Pick(HttpContext context, TargetSet targets, long timestamp)
    {
        var count = targets.Count;
        var start = (int)((uint)Interlocked.Increment(ref _next) % (uint)count);
        var best = targets[start];
        var bestInFlight = best.InFlight;
        for (var i = 1; i < count && bestInFlight > 0; i++)
        {
            var candidate = targets[(start + i) % count];
            if (candidate.InFlight < bestInFlight)
            {
                best = candidate;
                bestInFlight = candidate.InFlight;
            }
        }

        return best;
    }
}
