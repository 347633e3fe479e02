using Flotilla.Core.LoadBalancing;
using Yarp.ReverseProxy.LoadBalancing;
using Yarp.ReverseProxy.Model;

namespace Flotilla.Proxy.LoadBalancing;

/// <summary>
/// <c>least_requests</c>: the healthy task with the fewest requests in flight. The scan starts at a rotating offset, so
/// ties — the normal case under light load, when every task has 0 in flight — go round-robin instead of always to the
/// first task.
/// </summary>
internal sealed class LeastRequestsPolicy : ILoadBalancingPolicy
{
    private readonly PerClusterCounter _counter = new();

    public string Name => LoadBalancingNames.LeastRequests;

    public DestinationState? PickDestination(HttpContext context, ClusterState cluster, IReadOnlyList<DestinationState> availableDestinations)
    {
        var count = availableDestinations.Count;
        if (count <= 1)
        {
            return count == 0 ? null : availableDestinations[0];
        }

        var start = _counter.Next(cluster, count);
        var best = availableDestinations[start];
        var bestInFlight = best.ConcurrentRequestCount;
        for (var i = 1; i < count && bestInFlight > 0; i++)
        {
            var candidate = availableDestinations[(start + i) % count];
            var inFlight = candidate.ConcurrentRequestCount;
            if (inFlight < bestInFlight)
            {
                best = candidate;
                bestInFlight = inFlight;
            }
        }

        return best;
    }
}
