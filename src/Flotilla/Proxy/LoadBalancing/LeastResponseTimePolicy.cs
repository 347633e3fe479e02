using Flotilla.Core.LoadBalancing;
using Flotilla.Proxy.Targets;

namespace Flotilla.Proxy.LoadBalancing;

/// <summary>
/// <c>least_response_time</c>: the task with the lowest cost = peak-EWMA latency × (in flight + 1), the cost of
/// Finagle's and Linkerd's "peak EWMA" balancer (they compare two random tasks by it; here every task is scanned). The
/// latency says how fast a task answers, the in-flight count how long the queue in front of it is; their product
/// estimates how long this request would take there. The scan starts at a rotating offset, so equal costs go
/// round-robin.
/// </summary>
/// <remarks>
/// A task with no answer yet (a new task: latency NaN) is costed at the mean latency of the tasks that have answered:
/// scored as 0 it would be flooded until its first answer came back, scored as infinite it would never get one. As
/// the mean, it gets about an average task's share, and its own latency takes over after one answer. When no task has
/// answered yet, every latency is taken as equal, which makes the cost the in-flight count: least requests.
/// </remarks>
internal sealed class LeastResponseTimePolicy : ILoadBalancingPolicy
{
    private readonly Rotation _rotation = new();

    public string Name => LoadBalancingNames.LeastResponseTime;

    public Target Pick(IRequestFields request, TargetSet targets, long timestamp)
    {
        var unknownLatency = MeanKnownLatency(targets, timestamp);
        var count = targets.Count;
        var start = _rotation.Next(count);
        var best = targets[start];
        var bestCost = Cost(best, unknownLatency, timestamp);
        for (var i = 1; i < count; i++)
        {
            var candidate = targets[(start + i) % count];
            var cost = Cost(candidate, unknownLatency, timestamp);
            if (cost < bestCost)
            {
                best = candidate;
                bestCost = cost;
            }
        }

        return best;
    }

    private static double Cost(Target target, double unknownLatency, long timestamp)
    {
        var latency = target.LatencyEwmaMs(timestamp);
        return (double.IsNaN(latency) ? unknownLatency : latency) * (target.InFlight + 1);
    }

    /// <summary>The mean latency of the targets that have answered; 1 (any positive constant would do) when none has.</summary>
    private static double MeanKnownLatency(TargetSet targets, long timestamp)
    {
        var sum = 0.0;
        var known = 0;
        foreach (var target in targets.Targets)
        {
            var latency = target.LatencyEwmaMs(timestamp);
            if (!double.IsNaN(latency))
            {
                sum += latency;
                known++;
            }
        }

        return known == 0 ? 1 : sum / known;
    }
}
