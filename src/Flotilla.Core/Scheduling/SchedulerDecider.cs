using System.Collections.Immutable;
using Flotilla.Core.Deployments;
using Flotilla.Core.Events;
using Flotilla.Core.Fleet;
using Flotilla.Core.Health;

namespace Flotilla.Core.Scheduling;

/// <summary>Something the scheduler wants done; the shell carries it out.</summary>
public abstract record SchedulerAction(string Service);

/// <summary>Start one task of the service's current revision.</summary>
public sealed record StartTask(string Service, int Revision) : SchedulerAction(Service);

/// <summary>
/// Take the task out of the load balancer, drain it, SIGTERM it, SIGKILL it after the stop timeout. <paramref name="Failed"/>
/// when it is stopped for failing (what a deployment's circuit breaker counts).
/// </summary>
public sealed record StopTask(string Service, string TaskId, string Reason, bool Failed = false) : SchedulerAction(Service);

/// <summary>Replace a deployment's record (its progress, or its end).</summary>
public sealed record UpdateDeployment(string Service, Deployments.DeploymentRecord Deployment) : SchedulerAction(Service);

/// <summary>Steer traffic among the service's revisions (null: every eligible task of any revision).</summary>
public sealed record SetTraffic(string Service, ImmutableDictionary<int, int>? Traffic) : SchedulerAction(Service);

/// <summary>Begin a deployment of an existing revision: a rollback.</summary>
public sealed record BeginRollback(string Service, int ToRevision, int RollbackOf, string Cause) : SchedulerAction(Service);

/// <summary>Append an event.</summary>
public sealed record RaiseEvent(FleetEvent Event) : SchedulerAction(Event.Service ?? "");

/// <summary>What the scheduler decided for one service.</summary>
/// <param name="Actions">What to do now, in order.</param>
/// <param name="Steady">Whether the service is now in a steady state (the shell stores it for the next decision).</param>
/// <param name="WakeAt">When to decide again even if nothing happens (a backoff ending); null when only new observations matter.</param>
public sealed record SchedulerDecision(ImmutableArray<SchedulerAction> Actions, bool Steady, DateTimeOffset? WakeAt);

/// <summary>
/// Keeps each service at its desired count of healthy tasks, like an ECS service scheduler. A pure function of the
/// service, its tasks and the time: no clock, no processes, no I/O.
/// </summary>
public static class SchedulerDecider
{
    /// <param name="service">The service.</param>
    /// <param name="tasks">Its tasks.</param>
    /// <param name="now">Now.</param>
    /// <param name="canary">A canary step's figures, when <see cref="DeploymentDecider.AnalysisDue"/> asked for them.</param>
    public static SchedulerDecision Decide(ServiceState service, IEnumerable<TaskRecord> tasks, DateTimeOffset now, CanaryFigures? canary = null)
    {
        if (service.ActiveDeployment is { } deployment)
        {
            return DeploymentDecider.Decide(service, deployment, tasks.Where(t => t.Service == service.Name).ToList(), now, canary);
        }

        var actions = ImmutableArray.CreateBuilder<SchedulerAction>();
        var live = tasks.Where(t => t.Service == service.Name && t.IsLive).ToList();
        var stopping = tasks.Any(t => t.Service == service.Name && t.State is TaskState.Draining or TaskState.Stopping);

        // Replace what the liveness check condemned first, so that it never counts toward desired.
        foreach (var task in live.Where(t => t.Liveness?.State == HealthState.Unhealthy).ToList())
        {
            actions.Add(new StopTask(service.Name, task.Id, StopReasons.FailedHealthChecks));
            live.Remove(task);
        }

        DateTimeOffset? wakeAt = null;
        var missing = service.Desired - live.Count;
        if (missing > 0)
        {
            if (service.Backoff.IsActive(now))
            {
                wakeAt = service.Backoff.NotBefore;
            }
            else
            {
                for (var i = 0; i < missing; i++)
                {
                    actions.Add(new StartTask(service.Name, service.Revision));
                }
            }
        }
        else if (missing < 0)
        {
            foreach (var task in ScaleInOrder(live).Take(-missing))
            {
                actions.Add(new StopTask(service.Name, task.Id, StopReasons.ScaleIn));
            }
        }

        var steady = actions.Count == 0 && !stopping && live.Count == service.Desired && live.All(t => t.IsInService);
        if (steady && !service.Steady)
        {
            actions.Add(new RaiseEvent(new FleetEvent(now, EventReasons.SteadyState, $"service {service.Name} has reached a steady state", service.Name)));
        }

        return new SchedulerDecision(actions.ToImmutable(), steady, wakeAt);
    }

    /// <summary>
    /// Which tasks scale-in stops first: those that are not serving (not yet healthy) before healthy ones, and the newest
    /// first within each, so that the tasks that have proven themselves longest keep running.
    /// </summary>
    public static IEnumerable<TaskRecord> ScaleInOrder(IEnumerable<TaskRecord> live) =>
        live.OrderBy(t => t.IsInService ? 1 : 0).ThenByDescending(t => t.Sequence);
}
