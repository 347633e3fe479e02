using System.Collections.Frozen;
using Flotilla.Core.Events;
using Flotilla.Core.Fleet;
using Flotilla.Scheduling;
using Flotilla.Telemetry;

namespace Flotilla.Proxy.Targets;

/// <summary>
/// Every service's <see cref="TargetGroup"/>, kept in line with the fleet as the scheduler publishes it. If the
/// scheduler stalls, the groups keep their last targets and the load balancer keeps routing (static stability).
/// </summary>
internal sealed class TargetGroups : ITargetDrainer, IDisposable
{
    private readonly FleetView _fleet;
    private readonly EventLog _events;
    private readonly FlotillaMetrics _metrics;
    private readonly TimeProvider _time;
    private volatile FrozenDictionary<string, TargetGroup> _byService = FrozenDictionary<string, TargetGroup>.Empty;

    public TargetGroups(FleetView fleet, EventLog events, FlotillaMetrics metrics, TimeProvider time)
    {
        _fleet = fleet;
        _events = events;
        _metrics = metrics;
        _time = time;
        metrics.ObserveTargets(this);
        Update(fleet.Current);
        fleet.Changed += Update;
    }

    /// <summary>The groups now; a service added or reconfigured by an apply gets a new group, with its targets carried over.</summary>
    public FrozenDictionary<string, TargetGroup> ByService => _byService;

    public Task<int> DrainAsync(string service, string taskId, TimeSpan deregistrationDelay, CancellationToken cancellationToken) =>
        ByService.TryGetValue(service, out var group) ? group.DrainAsync(taskId, deregistrationDelay, cancellationToken) : Task.FromResult(0);

    /// <summary>The load balancer's target for a task, or null when it has none.</summary>
    public Target? Find(string service, string taskId) =>
        ByService.TryGetValue(service, out var group) ? group.All.FirstOrDefault(t => t.TaskId == taskId) : null;

    public void Dispose() => _fleet.Changed -= Update;

    private void Update(FleetState state)
    {
        var current = _byService;
        var groups = current;
        if (groups.Count != state.Services.Count || state.Services.Values.Any(s => !groups.TryGetValue(s.Name, out var g) || !ReferenceEquals(g.Service, s.Spec)))
        {
            groups = state.Services.Values.ToFrozenDictionary(
                s => s.Name,
                s => current.TryGetValue(s.Name, out var old) && ReferenceEquals(old.Service, s.Spec)
                    ? old
                    : new TargetGroup(s.Spec, _time, Random.Shared, _events, _metrics.RecordEjection, old?.All),
                StringComparer.Ordinal);
        }

        foreach (var (service, group) in groups)
        {
            group.Update(state.TasksOf(service), state.Services[service].Traffic);
        }

        // Published only once every new group has its targets: requests must never see a group not yet filled.
        _byService = groups;
    }
}
