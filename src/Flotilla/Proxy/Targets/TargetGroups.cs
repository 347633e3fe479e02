using System.Collections.Frozen;
using Flotilla.Core.Events;
using Flotilla.Core.Fleet;
using Flotilla.Core.Spec;
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

    public TargetGroups(SpecDocument spec, FleetView fleet, EventLog events, FlotillaMetrics metrics, TimeProvider time)
    {
        _fleet = fleet;
        ByService = spec.Spec.Services.ToFrozenDictionary(
            s => s.Name,
            s => new TargetGroup(s, time, Random.Shared, events, metrics.RecordEjection),
            StringComparer.Ordinal);
        metrics.ObserveTargets(this);
        Update(fleet.Current);
        fleet.Changed += Update;
    }

    public FrozenDictionary<string, TargetGroup> ByService { get; }

    public Task<int> DrainAsync(string service, string taskId, TimeSpan deregistrationDelay, CancellationToken cancellationToken) =>
        ByService.TryGetValue(service, out var group) ? group.DrainAsync(taskId, deregistrationDelay, cancellationToken) : Task.FromResult(0);

    /// <summary>Requests in flight to a task, or null when the load balancer has no target for it.</summary>
    public int? InFlight(string service, string taskId) =>
        ByService.TryGetValue(service, out var group) ? group.All.FirstOrDefault(t => t.TaskId == taskId)?.InFlight : null;

    public void Dispose() => _fleet.Changed -= Update;

    private void Update(FleetState state)
    {
        foreach (var (service, group) in ByService)
        {
            group.Update(state.TasksOf(service));
        }
    }
}
