using Flotilla.Proxy.Targets;

namespace Flotilla.Proxy.LoadBalancing;

/// <summary>
/// nginx's smooth weighted round robin over one <see cref="TargetSet"/> (<c>ngx_http_upstream_get_peer</c>): every pick
/// adds each target's weight to its running credit, takes the target with the most credit and charges it the total.
/// Over any run of picks each target's count stays within a bounded distance of its exact share, and a heavy target's
/// picks are spread out — weights 5, 1, 1 give a a b a c a a — rather than sent in a burst (a a a a a b c).
/// </summary>
/// <remarks>
/// Weights are read at every pick, so a slow-start ramp or a reweighting takes effect at once, and credit earned under
/// the old weights carries over instead of resetting. A new set starts from zero credit, as nginx does on a reload.
/// </remarks>
internal sealed class SmoothWeightedRoundRobin(TargetSet targets)
{
    private readonly double[] _credit = new double[targets.Count];

    // The update reads and writes every target's credit and the choice depends on all of them, so it must be atomic as
    // a whole. Envoy sidesteps this by giving each worker thread its own scheduler; Flotilla shares one per service, and
    // a lock-free version would need a fresh credit array per pick. The critical section is O(n) arithmetic on a few
    // dozen doubles, with no allocation and no I/O, so it is held for well under a microsecond.
    private readonly Lock _lock = new();

    /// <summary>The next target, weighting each by <paramref name="weightOf"/>(target, <paramref name="timestamp"/>), which must be positive.</summary>
    public Target Pick(Func<Target, long, double> weightOf, long timestamp)
    {
        lock (_lock)
        {
            var best = 0;
            var total = 0.0;
            for (var i = 0; i < _credit.Length; i++)
            {
                var weight = weightOf(targets[i], timestamp);
                _credit[i] += weight;
                total += weight;
                if (_credit[i] > _credit[best])
                {
                    best = i;
                }
            }

            _credit[best] -= total;
            return targets[best];
        }
    }
}
