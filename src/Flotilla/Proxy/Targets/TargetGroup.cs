using System.Collections.Immutable;
using Flotilla.Core.Fleet;
using Flotilla.Core.Spec;
using Flotilla.Proxy.LoadBalancing;

namespace Flotilla.Proxy.Targets;

/// <summary>
/// One service's targets and its load-balancing policy. The control plane's changes arrive through
/// <see cref="Update"/> (on the scheduler's loop); requests call <see cref="Pick"/> concurrently and read only an
/// immutable snapshot, so the data plane takes no lock on the hot path.
/// </summary>
internal sealed class TargetGroup
{
    private readonly TimeProvider _time;
    private readonly Dictionary<string, Target> _targets = new(StringComparer.Ordinal);
    private volatile TargetSet _eligible = TargetSet.Empty;

    public TargetGroup(ServiceSpec service, TimeProvider time, Random random)
    {
        Service = service;
        _time = time;
        Policy = LoadBalancingPolicies.Create(service.LoadBalancing, random);
    }

    public ServiceSpec Service { get; }

    public ILoadBalancingPolicy Policy { get; }

    /// <summary>The targets requests may go to now.</summary>
    public TargetSet Eligible => _eligible;

    /// <summary>The target for this request, or null when the service has none.</summary>
    public Target? Pick(HttpContext context)
    {
        var eligible = _eligible;
        return eligible.Count == 0 ? null : Policy.Pick(context, eligible, _time.GetTimestamp());
    }

    /// <summary>Brings the targets in line with the service's tasks. Called by one thread at a time.</summary>
    public void Update(IEnumerable<TaskRecord> tasks)
    {
        var inService = tasks.Where(t => t.IsInService).OrderBy(t => t.Sequence).ToList();
        foreach (var id in _targets.Keys.Except(inService.Select(t => t.Id)).ToList())
        {
            _targets.Remove(id);
        }

        var builder = ImmutableArray.CreateBuilder<Target>(inService.Count);
        foreach (var task in inService)
        {
            if (!_targets.TryGetValue(task.Id, out var target))
            {
                target = new Target(task.Id, task.Service, task.Revision, task.Port, _time.GetTimestamp(), TimeSpan.Zero, _time.TimestampFrequency);
                _targets[task.Id] = target;
            }

            builder.Add(target);
        }

        var eligible = builder.MoveToImmutable();
        if (!eligible.SequenceEqual(_eligible.Targets))
        {
            _eligible = new TargetSet(eligible);
        }
    }
}
