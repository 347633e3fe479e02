using System.Collections.Frozen;
using Flotilla.Core.Fleet;
using Flotilla.Core.Spec;
using Flotilla.Scheduling;

namespace Flotilla.Proxy.Targets;

/// <summary>
/// Every service's <see cref="TargetGroup"/>, kept in line with the fleet as the scheduler publishes it. If the
/// scheduler stalls, the groups keep their last targets and the load balancer keeps routing (static stability).
/// </summary>
internal sealed class TargetGroups : IDisposable
{
    private readonly FleetView _fleet;

    public TargetGroups(SpecDocument spec, FleetView fleet, TimeProvider time)
    {
        _fleet = fleet;
        ByService = spec.Spec.Services.ToFrozenDictionary(s => s.Name, s => new TargetGroup(s, time, Random.Shared), StringComparer.Ordinal);
        Update(fleet.Current);
        fleet.Changed += Update;
    }

    public FrozenDictionary<string, TargetGroup> ByService { get; }

    public void Dispose() => _fleet.Changed -= Update;

    private void Update(FleetState state)
    {
        foreach (var (service, group) in ByService)
        {
            group.Update(state.TasksOf(service));
        }
    }
}
