using System.Collections.Immutable;
using Flotilla.Core.Events;
using Flotilla.Core.Health;
using Flotilla.Core.Scheduling;
using Flotilla.Core.Spec;

namespace Flotilla.Core.Fleet;

/// <summary>
/// The whole fleet at one moment: services and tasks. Immutable; every transition returns a new state and reports
/// what a person would want to know as <see cref="FleetEvent"/>s into the given sink. The scheduler's shell is its only writer.
/// </summary>
public sealed partial record FleetState
{
    /// <summary>How many stopped tasks to remember per service, for <c>flotilla ps --all</c> and post-mortems.</summary>
    public const int StoppedTasksKept = 50;

    /// <summary>The spec as last applied: listeners and rules as the load balancer should route now.</summary>
    public FlotillaSpec Spec { get; init; } = new();

    public ImmutableDictionary<string, ServiceState> Services { get; init; } = ImmutableDictionary<string, ServiceState>.Empty;

    /// <summary>Service names in the order of the spec.</summary>
    public ImmutableArray<string> ServiceOrder { get; init; } = [];

    public ImmutableDictionary<string, TaskRecord> Tasks { get; init; } = ImmutableDictionary<string, TaskRecord>.Empty;

    public long NextSequence { get; init; } = 1;

    /// <summary>The fleet of a spec before anything runs: each service at revision 1, its first deployment under way.</summary>
    public static FleetState FromSpec(FlotillaSpec spec, DateTimeOffset now) => new()
    {
        Spec = spec,
        Services = spec.Services.ToImmutableDictionary(s => s.Name, s => ServiceState.Create(s, now, "spec")),
        ServiceOrder = spec.Services.Select(s => s.Name).ToImmutableArray(),
    };

    /// <summary>The task's own revision of its service: what it runs and how it is checked.</summary>
    public ServiceSpec SpecOf(TaskRecord task) => Services[task.Service].RevisionOf(task.Revision).Spec;

    public IEnumerable<ServiceState> OrderedServices => ServiceOrder.Select(name => Services[name]);

    public IEnumerable<TaskRecord> TasksOf(string service) => Tasks.Values.Where(t => t.Service == service);

    /// <summary>A new pending task of a revision of <paramref name="service"/> on <paramref name="port"/>.</summary>
    public FleetState AddTask(string service, int revision, int port, DateTimeOffset now, out TaskRecord task)
    {
        var svc = Services[service];
        task = new TaskRecord
        {
            Id = $"{service}-{svc.NextTaskNumber}",
            Service = service,
            Revision = revision,
            Sequence = NextSequence,
            Port = port,
            CreatedAt = now,
            Liveness = svc.RevisionOf(revision).Spec.Liveness is null ? null : HealthStatus.Initial,
        };
        return this with
        {
            Services = Services.SetItem(service, svc with { NextTaskNumber = svc.NextTaskNumber + 1 }),
            Tasks = Tasks.Add(task.Id, task),
            NextSequence = NextSequence + 1,
        };
    }

    public FleetState TaskStarted(string id, int pid, DateTimeOffset now, ICollection<FleetEvent> events)
    {
        if (!Tasks.TryGetValue(id, out var task))
        {
            return this;
        }

        events.Add(new FleetEvent(now, EventReasons.TaskStarted, $"task {id} started (pid {pid}, port {task.Port})", task.Service, id));
        return WithTask(task with
        {
            Pid = pid,
            StartedAt = now,
            State = task.State == TaskState.Pending ? TaskState.Running : task.State,
        });
    }

    public FleetState TaskFailedToStart(string id, string error, DateTimeOffset now, ICollection<FleetEvent> events)
    {
        if (!Tasks.TryGetValue(id, out var task))
        {
            return this;
        }

        var reason = StopReasons.FailedToStart(error);
        events.Add(new FleetEvent(now, EventReasons.TaskFailedToStart, $"task {id} {reason}", task.Service, id));
        return WithStopped(task with { State = TaskState.Stopped, StoppedAt = now, StoppedReason = reason, Failed = true })
            .WithLaunchFailure(task.Service, now, events);
    }

    /// <summary>
    /// The task's process ended. A stop Flotilla asked for keeps its reason; anything else is an unplanned exit, and one
    /// within <see cref="LaunchBackoff.QuickExitWindow"/> of start is a failed start that backs the service off.
    /// </summary>
    public FleetState TaskExited(string id, int exitCode, DateTimeOffset now, ICollection<FleetEvent> events)
    {
        if (!Tasks.TryGetValue(id, out var task) || task.State == TaskState.Stopped)
        {
            return this;
        }

        var planned = task.StoppedReason is not null;
        var reason = task.StoppedReason ?? StopReasons.FromExitCode(exitCode);
        var state = WithStopped(task with { State = TaskState.Stopped, StoppedAt = now, StoppedReason = reason, ExitCode = exitCode, Failed = task.Failed || !planned });
        if (planned)
        {
            events.Add(new FleetEvent(now, EventReasons.TaskStopped, $"task {id} stopped ({reason}; exit code {exitCode})", task.Service, id));
            return state;
        }

        var ranFor = now - (task.StartedAt ?? task.CreatedAt);
        events.Add(new FleetEvent(now, EventReasons.TaskExited, $"task {id} {reason} after {Durations.Format(RoundToMillis(ranFor))}", task.Service, id));
        return ranFor < LaunchBackoff.QuickExitWindow ? state.WithLaunchFailure(task.Service, now, events) : state;
    }

    /// <summary>
    /// One more readiness check result for a running task. Readiness decides traffic only: an unhealthy task leaves the
    /// load balancer and comes back once it passes again; it is not stopped.
    /// </summary>
    public FleetState HealthChecked(string id, HealthCheckResult result, DateTimeOffset now, ICollection<FleetEvent> events)
    {
        if (!Tasks.TryGetValue(id, out var task) || task.State != TaskState.Running)
        {
            return this;
        }

        var spec = SpecOf(task).Health;
        var health = task.Health.Observe(result, now, InGracePeriod(task, spec, now), spec);
        var state = WithTask(task with { Health = health, HealthyAt = task.HealthyAt ?? (health.State == HealthState.Healthy ? now : null) });
        if (health.State == task.Health.State)
        {
            return state;
        }

        switch (health.State)
        {
            case HealthState.Healthy:
                events.Add(new FleetEvent(now, EventReasons.TaskHealthy, $"task {id} is healthy", task.Service, id));
                var svc = state.Services[task.Service];
                return svc.Backoff == LaunchBackoff.None
                    ? state
                    : state with { Services = state.Services.SetItem(svc.Name, svc with { Backoff = LaunchBackoff.None }) };
            case HealthState.Unhealthy:
                events.Add(new FleetEvent(
                    now,
                    EventReasons.TaskNotReady,
                    $"task {id} failed {health.ConsecutiveFailures} health checks in a row (last: {health.LastFailure}); it takes no traffic until it passes again",
                    task.Service,
                    id));
                return state;
            default:
                return state;
        }
    }

    /// <summary>
    /// One more liveness check result. An unhealthy task is replaced by the scheduler; if it never became healthy, that
    /// counts as a failed start.
    /// </summary>
    public FleetState LivenessChecked(string id, HealthCheckResult result, DateTimeOffset now, ICollection<FleetEvent> events)
    {
        if (!Tasks.TryGetValue(id, out var task) || task.State != TaskState.Running || task.Liveness is null)
        {
            return this;
        }

        var spec = SpecOf(task).Liveness!;
        var liveness = task.Liveness.Observe(result, now, InGracePeriod(task, spec, now), spec);
        var state = WithTask(task with { Liveness = liveness });
        if (liveness.State != HealthState.Unhealthy || task.Liveness.State == HealthState.Unhealthy)
        {
            return state;
        }

        events.Add(new FleetEvent(
            now,
            EventReasons.TaskUnhealthy,
            $"task {id} failed {liveness.ConsecutiveFailures} liveness checks in a row (last: {liveness.LastFailure})",
            task.Service,
            id));
        return task.HealthyAt is null ? state.WithLaunchFailure(task.Service, now, events) : state;
    }

    /// <summary>
    /// A running task's in-flight requests are done (or its deregistration delay is over): it goes from draining to
    /// stopping, and gets SIGTERM.
    /// </summary>
    public FleetState DrainCompleted(string id, int stillInFlight, TimeSpan after, DateTimeOffset now, ICollection<FleetEvent> events)
    {
        if (!Tasks.TryGetValue(id, out var task) || task.State != TaskState.Draining)
        {
            return this;
        }

        var how = stillInFlight == 0
            ? $"drained in {Durations.Format(RoundToMillis(after))}"
            : $"deregistration delay of {Durations.Format(RoundToMillis(after))} ended with {stillInFlight} request{(stillInFlight == 1 ? "" : "s")} still in flight";
        events.Add(new FleetEvent(now, EventReasons.TaskDraining, $"task {id} {how}", task.Service, id));
        return WithTask(task with { State = TaskState.Stopping });
    }

    /// <summary>Sets a task's weight for weighted load balancing, or says why it cannot.</summary>
    public FleetState SetWeight(string id, int weight, DateTimeOffset now, ICollection<FleetEvent> events, out string? error)
    {
        error = !Tasks.TryGetValue(id, out var task) ? $"unknown task '{id}'"
            : weight is < 1 or > 256 ? $"weight must be between 1 and 256, got {weight}"
            : !task.IsLive ? $"task {id} is {task.State.ToString().ToLowerInvariant()}"
            : null;
        if (error is not null || task!.Weight == weight)
        {
            return this;
        }

        events.Add(new FleetEvent(now, EventReasons.TaskWeight, $"task {id} weight changed {task.Weight} → {weight}", task.Service, id));
        return WithTask(task with { Weight = weight });
    }

    /// <summary>
    /// Flotilla decided to stop the task. A running one leaves the load balancer now and drains (keeps serving its
    /// requests in flight); one that never started goes straight to stopping.
    /// </summary>
    /// <param name="id">The task.</param>
    /// <param name="reason">Its stopped reason.</param>
    /// <param name="now">Now.</param>
    /// <param name="events">Where the event goes.</param>
    /// <param name="failed">It is stopped because it failed (its liveness check, or it never became healthy in time).</param>
    public FleetState StopRequested(string id, string reason, DateTimeOffset now, ICollection<FleetEvent> events, bool failed = false)
    {
        if (!Tasks.TryGetValue(id, out var task) || !task.IsLive)
        {
            return this;
        }

        var draining = task.State == TaskState.Running;
        events.Add(new FleetEvent(now, EventReasons.TaskStopping, $"stopping task {id}: {reason}{(draining ? "; draining" : "")}", task.Service, id));
        return WithTask(task with { State = draining ? TaskState.Draining : TaskState.Stopping, StoppedReason = reason, Failed = failed });
    }

    /// <summary>A user asked to stop a task (<see cref="StopReasons.User"/>), or why it cannot be.</summary>
    public FleetState StopByUser(string id, DateTimeOffset now, ICollection<FleetEvent> events, out string? error)
    {
        error = !Tasks.TryGetValue(id, out var task) ? $"unknown task '{id}'"
            : !task.IsLive ? $"task {id} is already {task.State.ToString().ToLowerInvariant()}"
            : null;
        return error is null ? StopRequested(id, StopReasons.User, now, events) : this;
    }

    /// <summary>
    /// Sets a service's desired count, or says why it cannot. With a <paramref name="reason"/> (the autoscaler's, with its
    /// figures) the event says <c>scaled shop 3 → 6: REASON</c>.
    /// </summary>
    public FleetState SetDesired(string service, int desired, DateTimeOffset now, ICollection<FleetEvent> events, out string? error, string? reason = null)
    {
        error = null;
        if (!Services.TryGetValue(service, out var svc))
        {
            error = $"unknown service '{service}'";
            return this;
        }

        if (desired is < 0 or > ServiceSpec.MaxDesired)
        {
            error = $"desired must be between 0 and {ServiceSpec.MaxDesired}, got {desired}";
            return this;
        }

        if (desired == svc.Desired)
        {
            return this;
        }

        var message = reason is null ? $"service {service} desired count changed {svc.Desired} → {desired}" : $"scaled {service} {svc.Desired} → {desired}: {reason}";
        events.Add(new FleetEvent(now, EventReasons.Scaled, message, service));
        return this with { Services = Services.SetItem(service, svc with { Desired = desired, Steady = false }) };
    }

    /// <summary>
    /// Carries out the state side of a <see cref="SchedulerDecision"/> for one service: new pending tasks (each on a port
    /// from <paramref name="allocatePort"/>, reported in <paramref name="started"/> for the shell to launch), stop
    /// requests, events and the steady flag.
    /// </summary>
    public FleetState ApplyDecision(
        string service,
        SchedulerDecision decision,
        DateTimeOffset now,
        Func<int> allocatePort,
        ICollection<FleetEvent> events,
        ICollection<TaskRecord> started)
    {
        var state = this;
        foreach (var action in decision.Actions)
        {
            switch (action)
            {
                case StartTask start:
                    state = state.AddTask(service, start.Revision, allocatePort(), now, out var task);
                    started.Add(task);
                    break;
                case StopTask stop:
                    state = state.StopRequested(stop.TaskId, stop.Reason, now, events, stop.Failed);
                    break;
                case RaiseEvent raise:
                    events.Add(raise.Event);
                    break;
                case UpdateDeployment update:
                    state = state.WithService(state.Services[service].WithDeployment(update.Deployment));
                    break;
                case SetTraffic traffic:
                    state = state.WithService(state.Services[service] with { Traffic = traffic.Traffic });
                    break;
                case BeginRollback rollback:
                    state = state.BeginDeployment(service, rollback.ToRevision, rollback.Cause, rollback.RollbackOf, now, events, automatic: true);
                    break;
                default:
                    throw new InvalidOperationException($"unknown scheduler action {action.GetType().Name}");
            }
        }

        var svc = state.Services[service];
        state = svc.Steady == decision.Steady ? state : state.WithService(svc with { Steady = decision.Steady });
        return svc.Removing && !state.TasksOf(service).Any(t => t.State != TaskState.Stopped) ? state.WithoutService(service, now, events) : state;
    }

    public FleetState WithService(ServiceState service) => this with { Services = Services.SetItem(service.Name, service) };

    private FleetState WithTask(TaskRecord task) => this with { Tasks = Tasks.SetItem(task.Id, task) };

    /// <summary>Records a stopped task and forgets the oldest stopped ones of its service beyond <see cref="StoppedTasksKept"/>.</summary>
    private FleetState WithStopped(TaskRecord task)
    {
        var tasks = Tasks.SetItem(task.Id, task);
        var stopped = tasks.Values.Where(t => t.Service == task.Service && t.State == TaskState.Stopped).ToList();
        if (stopped.Count > StoppedTasksKept)
        {
            tasks = tasks.RemoveRange(stopped.OrderBy(t => t.Sequence).Take(stopped.Count - StoppedTasksKept).Select(t => t.Id));
        }

        return this with { Tasks = tasks };
    }

    private FleetState WithLaunchFailure(string service, DateTimeOffset now, ICollection<FleetEvent> events)
    {
        var svc = Services[service];
        var backoff = svc.Backoff.AfterFailure(now);
        events.Add(new FleetEvent(
            now,
            EventReasons.BackingOff,
            $"service {service} is backing off: {backoff.ConsecutiveFailures} failed start{(backoff.ConsecutiveFailures == 1 ? "" : "s")} in a row; next start in {Durations.Format(backoff.NotBefore - now)}",
            service));
        return WithService(svc with { Backoff = backoff, Steady = false });
    }

    private static bool InGracePeriod(TaskRecord task, HealthCheckSpec spec, DateTimeOffset now) =>
        now - (task.StartedAt ?? task.CreatedAt) < spec.GracePeriod;

    private static TimeSpan RoundToMillis(TimeSpan value) => TimeSpan.FromMilliseconds(Math.Round(value.TotalMilliseconds));
}
