using System.Collections.Immutable;
using Flotilla.Core.Deployments;
using Flotilla.Core.Events;
using Flotilla.Core.Spec;

namespace Flotilla.Core.Fleet;

/// <summary>The fleet's transitions that change what it should run: deploy, roll back, apply a spec.</summary>
public sealed partial record FleetState
{
    /// <summary>
    /// A new task definition for a service: a new revision and a deployment of it, which supersedes one in progress.
    /// Service-level changes in <paramref name="spec"/> take effect at once. Says why not when there is nothing to deploy.
    /// </summary>
    public FleetState Deploy(string service, ServiceSpec spec, string cause, DateTimeOffset now, ICollection<FleetEvent> events, out string? error)
    {
        error = null;
        if (!Services.TryGetValue(service, out var svc))
        {
            error = $"unknown service '{service}'";
            return this;
        }

        var changes = TaskDefinition.Changes(svc.Spec, spec);
        if (changes.Count == 0)
        {
            error = $"the task definition of {service} would not change; nothing to deploy";
            return this;
        }

        var revision = new RevisionRecord(svc.Revisions.Length + 1, spec, now, [.. changes], cause);
        events.Add(new FleetEvent(now, EventReasons.Revision, $"service {service} revision {revision.Number}: {string.Join("; ", changes)}", service));
        var state = WithService(svc with { Spec = spec, Revisions = svc.Revisions.Add(revision) });
        return state.BeginDeployment(service, revision.Number, cause, rollbackOf: null, now, events);
    }

    /// <summary>
    /// Deploys an earlier revision again: <paramref name="toRevision"/>, or by default the one that was stable before the
    /// current deployment. A blue/green deployment still baking switches traffic back at once.
    /// </summary>
    public FleetState Rollback(string service, int? toRevision, DateTimeOffset now, ICollection<FleetEvent> events, out string? error)
    {
        error = null;
        if (!Services.TryGetValue(service, out var svc))
        {
            error = $"unknown service '{service}'";
            return this;
        }

        var target = toRevision ?? PreviousRevision(svc);
        if (target is null)
        {
            error = $"no earlier revision of {service} has completed a deployment; name one with --to";
            return this;
        }

        if (target < 1 || target > svc.Revisions.Length)
        {
            error = $"{service} has no revision {target}; revisions: 1 to {svc.Revisions.Length}";
            return this;
        }

        if (target == svc.Revision)
        {
            error = $"{service} is already at revision {target}";
            return this;
        }

        var of = svc.ActiveDeployment?.Id ?? svc.Deployments[^1].Id;
        return BeginDeployment(service, target.Value, $"rollback of deployment {of} (by user)", of, now, events);
    }

    /// <summary>
    /// Begins the deployment of an existing revision; one in progress is superseded (a rollback that ends it is a
    /// rollback of it). A rollback is a rolling deployment that first pins traffic to the target revision, if any of its
    /// tasks still serve, so that users stop meeting the broken one at once.
    /// </summary>
    /// <param name="service">The service.</param>
    /// <param name="toRevision">The revision to deploy.</param>
    /// <param name="cause">Why, in words.</param>
    /// <param name="rollbackOf">The deployment this one rolls back, if it is a rollback.</param>
    /// <param name="now">Now.</param>
    /// <param name="events">Where the events go.</param>
    /// <param name="automatic">Flotilla begins it itself, because <paramref name="rollbackOf"/> failed.</param>
    public FleetState BeginDeployment(string service, int toRevision, string cause, int? rollbackOf, DateTimeOffset now, ICollection<FleetEvent> events, bool automatic = false)
    {
        var svc = Services[service];
        var id = svc.NextDeploymentId;
        if (svc.ActiveDeployment is { } active)
        {
            var rolledBack = rollbackOf == active.Id;
            svc = svc.WithDeployment(active with
            {
                Status = rolledBack ? DeploymentStatus.RolledBack : DeploymentStatus.Superseded,
                EndedAt = now,
                Outcome = active.Outcome ?? (rolledBack ? $"rolled back by deployment {id}" : $"superseded by deployment {id}"),
            });
        }

        var strategy = rollbackOf is null ? svc.Spec.Deployment.Strategy : DeploymentStrategy.Rolling;
        var stable = svc.StableRevision;
        var targetServes = TasksOf(service).Any(t => t.Revision == toRevision && t.IsInService);
        var traffic = rollbackOf is not null
            ? (targetServes ? ImmutableDictionary<int, int>.Empty.Add(toRevision, 100) : null)
            : strategy != DeploymentStrategy.Rolling && stable is { } s ? ImmutableDictionary<int, int>.Empty.Add(s, 100) : null;
        var record = new DeploymentRecord
        {
            Id = id,
            ToRevision = toRevision,
            FromRevision = svc.Revision,
            StableRevision = stable,
            Strategy = strategy,
            StartedAt = now,
            Cause = cause,
            RollbackOf = rollbackOf,
            Automatic = automatic,
        };
        var spec = TaskDefinition.Apply(svc.Spec, svc.RevisionOf(toRevision).Spec);
        events.Add(new FleetEvent(
            now,
            EventReasons.DeploymentStarted,
            $"deployment {id} of {service} started: revision {svc.Revision} → {toRevision} ({strategy.ToString().ToLowerInvariant()}; {cause})",
            service));
        return WithService(svc.WithDeployment(record) with { Spec = spec, Traffic = traffic, Steady = false });
    }

    /// <summary>
    /// Applies a new spec as <paramref name="plan"/> describes it — services added, removed (scaled to zero, then
    /// forgotten), updated (a new revision and a deployment when the task definition changes), listeners' rules — all at
    /// once, or nothing when the plan refuses something.
    /// </summary>
    public FleetState Apply(FlotillaSpec next, SpecPlan plan, string file, DateTimeOffset now, ICollection<FleetEvent> events, out string? error)
    {
        error = plan.Refused.IsEmpty ? null : "cannot apply without a restart: " + string.Join("; ", plan.Refused);
        if (error is not null)
        {
            return this;
        }

        var state = this with { Spec = next };
        foreach (var change in plan.Services)
        {
            var spec = next.FindService(change.Name);
            switch (change.Action)
            {
                case ServicePlanAction.Add when state.Services.TryGetValue(change.Name, out var leaving):
                    // Re-added while its tasks are still stopping: the same service lives on, so that its task numbers
                    // and revisions go on from where they were (a new service would number its tasks from 1 again,
                    // beside the old ones). The stopping tasks finish stopping; the scheduler starts new ones.
                    events.Add(new FleetEvent(now, EventReasons.Applied, $"service {change.Name} added back while its old tasks stop", change.Name));
                    state = state.WithService(leaving with { Removing = false }).Update(change.Name, spec!, TaskDefinition.Changes(leaving.Spec, spec!).Count > 0, now, events);
                    break;
                case ServicePlanAction.Add:
                    state = state with
                    {
                        Services = state.Services.SetItem(change.Name, ServiceState.Create(spec!, now, "apply")),
                        ServiceOrder = state.ServiceOrder.Add(change.Name),
                    };
                    events.Add(new FleetEvent(now, EventReasons.Applied, $"service {change.Name} added with {spec!.Desired} tasks", change.Name));
                    break;
                case ServicePlanAction.Remove:
                    var removed = state.Services[change.Name];
                    if (removed.ActiveDeployment is { } active)
                    {
                        removed = removed.WithDeployment(active with { Status = DeploymentStatus.Superseded, EndedAt = now, Outcome = "the service was removed" });
                    }

                    state = state.WithService(removed with { Desired = 0, Removing = true, Steady = false, Traffic = null });
                    events.Add(new FleetEvent(now, EventReasons.Applied, $"service {change.Name} removed: stopping its {state.TasksOf(change.Name).Count(t => t.IsLive)} tasks", change.Name));
                    break;
                case ServicePlanAction.Update:
                    state = state.Update(change.Name, spec!, !change.TaskDefinitionChanges.IsEmpty, now, events);
                    break;
            }
        }

        events.Add(new FleetEvent(now, EventReasons.Applied, $"applied {file}: {plan.Summary}"));
        return state;
    }

    /// <summary>An applied spec's service: its count set, then its spec taken at once or, for a new task definition, deployed.</summary>
    private FleetState Update(string service, ServiceSpec spec, bool newTaskDefinition, DateTimeOffset now, ICollection<FleetEvent> events)
    {
        var svc = Services[service];
        var desired = AppliedDesired(svc, spec);
        var state = desired == svc.Desired
            ? this
            : SetDesired(service, desired, now, events, out _, spec.Autoscaling is { } scaling ? $"applied: within autoscaling min {scaling.Min} and max {scaling.Max}" : null);
        return newTaskDefinition
            ? state.Deploy(service, spec, "apply", now, events, out _)
            : state.WithService(state.Services[service] with { Spec = spec });
    }

    /// <summary>
    /// The count an applied spec sets: its <c>desired</c>, unless the service is autoscaled, when the autoscaler's count
    /// stands, brought within the new min and max — a re-applied file must not undo a scale-out (Kubernetes leaves
    /// <c>replicas</c> out of a manifest under an HPA for the same reason).
    /// </summary>
    private static int AppliedDesired(ServiceState svc, ServiceSpec spec) =>
        spec.Autoscaling is { } scaling ? Math.Clamp(svc.Desired, scaling.Min, scaling.Max) : spec.Desired;

    /// <summary>Forgets a removed service once its last task has stopped.</summary>
    private FleetState WithoutService(string service, DateTimeOffset now, ICollection<FleetEvent> events)
    {
        events.Add(new FleetEvent(now, EventReasons.Applied, $"service {service} is gone", service));
        return this with
        {
            Services = Services.Remove(service),
            ServiceOrder = ServiceOrder.Remove(service),
            Tasks = Tasks.RemoveRange(Tasks.Values.Where(t => t.Service == service).Select(t => t.Id)),
        };
    }

    /// <summary>The revision before the current one that last completed a deployment.</summary>
    private static int? PreviousRevision(ServiceState svc) =>
        svc.ActiveDeployment is { StableRevision: { } stable } ? stable
        : svc.Deployments.Reverse().FirstOrDefault(d => d.Status == DeploymentStatus.Completed && d.ToRevision != svc.Revision)?.ToRevision;
}
