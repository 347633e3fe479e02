using Flotilla.Core.LoadBalancing;
using Flotilla.Proxy.Targets;

namespace Flotilla.Proxy.LoadBalancing;

/// <summary>
/// <c>round_robin</c>: each eligible task in turn, weights ignored. A task in slow start gets only its ramped share
/// (like ALB's round robin with slow start): while any task ramps, the turns are a smooth weighted round robin over the
/// slow-start factors, so at 10% the new task gets one turn for every ten of a warm one.
/// </summary>
internal sealed class RoundRobinPolicy : ILoadBalancingPolicy
{
    private static readonly Func<Target, long, double> SlowStartFactor = static (target, timestamp) => target.SlowStartFactor(timestamp);

    private readonly Rotation _rotation = new();
    private readonly PerTargetSet<Turns> _turns = new(static targets => new Turns(targets));

    public string Name => LoadBalancingNames.RoundRobin;

    public Target Pick(IRequestFields request, TargetSet targets, long timestamp)
    {
        var turns = _turns.For(targets);
        return turns.Ramping(timestamp) ? turns.Smooth.Pick(SlowStartFactor, timestamp) : targets[_rotation.Next(targets.Count)];
    }

    private sealed class Turns(TargetSet targets)
    {
        // Slow start only ever ends and a set's membership never changes, so once every target is at full weight this
        // set stays plain rotation: O(1) per pick for the rest of its life instead of a scan for ramps on every pick.
        private volatile bool _rampOver;

        public SmoothWeightedRoundRobin Smooth { get; } = new(targets);

        public bool Ramping(long timestamp)
        {
            if (_rampOver)
            {
                return false;
            }

            foreach (var target in targets.Targets)
            {
                if (target.SlowStartFactor(timestamp) < 1)
                {
                    return true;
                }
            }

            _rampOver = true;
            return false;
        }
    }
}
