using Flotilla.Core.LoadBalancing;
using Flotilla.Proxy.Targets;

namespace Flotilla.Proxy.LoadBalancing;

/// <summary>
/// <c>power_of_two</c>: of two distinct tasks drawn at random, the one with fewer requests in flight for its weight
/// (<see cref="LeastRequestsPolicy.Capacity"/>). Mitzenmacher's "power of two choices": almost as even as scanning
/// every task, in O(1), and — unlike a full least-requests scan — requests arriving together do not all rush the one
/// idle task. Envoy's least_request works this way when weights are equal. On a tie the first drawn wins, which is
/// itself a uniform random choice.
/// </summary>
internal sealed class PowerOfTwoPolicy(Random random) : ILoadBalancingPolicy
{
    public string Name => LoadBalancingNames.PowerOfTwo;

    public Target Pick(IRequestFields request, TargetSet targets, long timestamp)
    {
        var count = targets.Count;
        if (count == 1)
        {
            return targets[0];
        }

        // Draw the second from the other count - 1 positions, so the two are distinct without a retry loop.
        var first = random.Next(count);
        var second = random.Next(count - 1);
        if (second >= first)
        {
            second++;
        }

        var a = targets[first];
        var b = targets[second];
        return LeastRequestsPolicy.Capacity(b, timestamp) > LeastRequestsPolicy.Capacity(a, timestamp) ? b : a;
    }
}
