using System.Threading.Channels;
using Flotilla.Core.Deployments;
using Flotilla.Core.Events;
using Flotilla.Core.Fleet;
using Flotilla.Core.Metrics;
using Flotilla.Core.Scheduling;
using Flotilla.Core.Spec;
using Flotilla.Health;
using Flotilla.Hosting;
using Flotilla.Runtime;

namespace Flotilla.Scheduling;

/// <summary>
/// The scheduler's shell: one loop that owns the <see cref="FleetState"/>. It applies observations (a task started,
/// exited, passed a check) and commands (scale, stop) in arrival order, asks <see cref="SchedulerDecider"/> what to do,
/// does it, and publishes the new state and events. Being the only writer, it needs no locks.
/// </summary>
internal sealed partial class FleetController : BackgroundService
{
    private readonly Channel<FleetTransition> _inbox = Channel.CreateUnbounded<FleetTransition>(new UnboundedChannelOptions { SingleReader = true });
    private readonly Dictionary<string, TaskSupervisor> _supervisors = [];
    private readonly List<Action> _afterPublish = [];
    private readonly SpecDocument _spec;
    private readonly StateDirectory _stateDirectory;
    private readonly ITaskDriver _driver;
    private readonly HealthChecker _checker;
    private readonly ITargetDrainer _drainer;
    private readonly PortAllocator _ports;
    private readonly EventLog _events;
    private readonly MetricStore _metrics;
    private readonly FleetView _view;
    private readonly TimeProvider _time;
    private readonly IHostApplicationLifetime _lifetime;
    private readonly ILogger<FleetController> _logger;
    private FleetState _state;

    public FleetController(
        SpecDocument spec,
        StateDirectory stateDirectory,
        ITaskDriver driver,
        HealthChecker checker,
        ITargetDrainer drainer,
        PortAllocator ports,
        EventLog events,
        MetricStore metrics,
        FleetView view,
        TimeProvider time,
        IHostApplicationLifetime lifetime,
        ILogger<FleetController> logger)
    {
        _spec = spec;
        _stateDirectory = stateDirectory;
        _driver = driver;
        _checker = checker;
        _drainer = drainer;
        _ports = ports;
        _events = events;
        _metrics = metrics;
        _view = view;
        _time = time;
        _lifetime = lifetime;
        _logger = logger;
        _state = view.Current;
    }

    /// <summary>Sets a service's desired count, with the autoscaler's <paramref name="reason"/> if it is the one asking; the error, if any, is for the caller.</summary>
    public Task<string?> ScaleAsync(string service, int desired, string? reason = null) =>
        Try((FleetState s, DateTimeOffset now, List<FleetEvent> ev, out string? error) => s.SetDesired(service, desired, now, ev, out error, reason));

    /// <summary>Stops a task as a user asked ("stopped by user"); the scheduler then replaces it if desired says so.</summary>
    public Task<string?> StopTaskAsync(string taskId) =>
        Try((FleetState s, DateTimeOffset now, List<FleetEvent> ev, out string? error) => s.StopByUser(taskId, now, ev, out error));

    /// <summary>Deploys a new task definition of a service (a new revision); the error, if any, is for the caller.</summary>
    public Task<string?> DeployAsync(string service, ServiceSpec spec, string cause) =>
        Try((FleetState s, DateTimeOffset now, List<FleetEvent> ev, out string? error) => s.Deploy(service, spec, cause, now, ev, out error));

    /// <summary>Deploys an earlier revision again.</summary>
    public Task<string?> RollbackAsync(string service, int? toRevision) =>
        Try((FleetState s, DateTimeOffset now, List<FleetEvent> ev, out string? error) => s.Rollback(service, toRevision, now, ev, out error));

    /// <summary>
    /// Applies a spec. The plan is made again on the loop, against the state it applies to, so that nothing that changed
    /// since the caller looked is overwritten; it is returned for the caller to show.
    /// </summary>
    public Task<(SpecPlan Plan, string? Error)> ApplyAsync(FlotillaSpec next, string file) =>
        Ask<(SpecPlan, string?)>((s, ev, reply) =>
        {
            var plan = SpecPlan.Between(s, next);
            var applied = s.Apply(next, plan, file, _time.GetUtcNow(), ev, out var error);
            reply((plan, error));
            return applied;
        });

    /// <summary>Sets a task's weight for weighted load balancing.</summary>
    public Task<string?> SetWeightAsync(string taskId, int weight) =>
        Try((FleetState s, DateTimeOffset now, List<FleetEvent> ev, out string? error) => s.SetWeight(taskId, weight, now, ev, out error));

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        await base.StopAsync(cancellationToken);

        // The loop has ended, so the supervisors are ours alone now. The proxy has already stopped accepting and
        // finished its requests, so there is nothing to drain: stop every task at once, each with its own service's
        // stopTimeout; if the host's shutdown timeout runs out first, SIGKILL whatever is left.
        var supervisors = _supervisors.Values.ToList();
        LogStoppingAll(supervisors.Count);
        try
        {
            await Task.WhenAll(supervisors.Select(s => s.StopAsync(drain: false))).WaitAsync(cancellationToken);
        }
        catch (OperationCanceledException)
        {
            LogKillingAll();
            supervisors.ForEach(s => s.Kill());
        }

        LogAllStopped();
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        // Tasks start only once every listener and the admin API are bound, so that a port conflict stops
        // Flotilla before it has started anything (and the loop ends quietly: that is no failure of the scheduler).
        try
        {
            await WhenStartedAsync(stoppingToken);
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            return;
        }

        DateTimeOffset? wakeAt = null;
        while (!stoppingToken.IsCancellationRequested)
        {
            var events = new List<FleetEvent>();
            while (_inbox.Reader.TryRead(out var transition))
            {
                _state = transition(_state, events);
            }

            wakeAt = Reconcile(events);
            _view.Publish(_state);
            foreach (var e in events)
            {
                _events.Append(e);
            }

            _afterPublish.ForEach(reply => reply());
            _afterPublish.Clear();

            await WaitForWorkAsync(wakeAt, stoppingToken);
        }
    }

    private void Post(FleetTransition transition) => _inbox.Writer.TryWrite(transition);

    /// <summary>
    /// Runs a command on the loop and answers once the state it produced is published, so that a caller who reads
    /// right after the answer sees its own change.
    /// </summary>
    /// <summary>A change of state that may be refused: the refusal, if any, is the caller's to show.</summary>
    private Task<string?> Try(Transition transition) =>
        Ask<string?>((s, ev, reply) =>
        {
            var next = transition(s, _time.GetUtcNow(), ev, out var error);
            reply(error);
            return next;
        });

    private delegate FleetState Transition(FleetState state, DateTimeOffset now, List<FleetEvent> events, out string? error);

    private Task<T> Ask<T>(Func<FleetState, List<FleetEvent>, Action<T>, FleetState> command)
    {
        var reply = new TaskCompletionSource<T>(TaskCreationOptions.RunContinuationsAsynchronously);
        Post((s, ev) => command(s, ev, value => _afterPublish.Add(() => reply.SetResult(value))));
        return reply.Task;
    }

    /// <summary>Runs the decider for every service, carries out its actions and keeps the supervisors in line with the state.</summary>
    private DateTimeOffset? Reconcile(List<FleetEvent> events)
    {
        var now = _time.GetUtcNow();
        DateTimeOffset? wakeAt = null;
        foreach (var name in _state.ServiceOrder)
        {
            var service = _state.Services[name];
            var decision = SchedulerDecider.Decide(service, _state.TasksOf(name), now, CanaryFigures(service, now));
            var started = new List<TaskRecord>();
            _state = _state.ApplyDecision(name, decision, now, _ports.Allocate, events, started);
            started.ForEach(Launch);
            if (decision.WakeAt is { } at && (wakeAt is null || at < wakeAt))
            {
                wakeAt = at;
            }
        }

        // Stopping is derived from the state, so that every path to it (scale-in, liveness, user) stops the process: a
        // draining task is drained first; one that never ran has nothing to drain.
        foreach (var supervisor in _supervisors.Values.ToList())
        {
            var state = _state.Tasks.GetValueOrDefault(supervisor.TaskId)?.State;
            if (state is TaskState.Draining or TaskState.Stopping)
            {
                _ = supervisor.StopAsync(drain: state == TaskState.Draining);
            }
            else if (state is TaskState.Stopped or null)
            {
                _supervisors.Remove(supervisor.TaskId);
                _ports.Release(supervisor.Port);
            }
        }

        return wakeAt;
    }

    /// <summary>A canary step's evidence from the metric store, when the decider has a step to judge.</summary>
    private CanaryFigures? CanaryFigures(ServiceState service, DateTimeOffset now)
    {
        if (DeploymentDecider.AnalysisDue(service, now) is not { } due)
        {
            return null;
        }

        GroupFigures Figures(int revision) => _metrics.Group(
            service.Name,
            _state.TasksOf(service.Name).Where(t => t.Revision == revision).Select(t => t.Id),
            due.Window,
            quantile: 0.99);
        return new CanaryFigures(Figures(due.Canary), Figures(due.Stable));
    }

    private void Launch(TaskRecord task)
    {
        var service = _state.SpecOf(task);
        var launch = TaskLaunch.For(service, task, _spec.BaseDirectory, _stateDirectory.TaskLogFile(task.Id));
        var supervisor = new TaskSupervisor(task, launch, service, _driver, _checker, _drainer, _time, Post);
        _supervisors[task.Id] = supervisor;
        supervisor.Start();
    }

    private async Task WaitForWorkAsync(DateTimeOffset? wakeAt, CancellationToken stoppingToken)
    {
        using var cancel = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken);
        var work = _inbox.Reader.WaitToReadAsync(cancel.Token).AsTask();
        var delay = wakeAt is { } at ? at - _time.GetUtcNow() : Timeout.InfiniteTimeSpan;
        if (delay != Timeout.InfiniteTimeSpan && delay <= TimeSpan.Zero)
        {
            return;
        }

        await Task.WhenAny(work, Task.Delay(delay, _time, cancel.Token));
        await cancel.CancelAsync();
    }

    private Task WhenStartedAsync(CancellationToken stoppingToken)
    {
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _lifetime.ApplicationStarted.Register(started.SetResult);
        return started.Task.WaitAsync(stoppingToken);
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "stopping {Count} tasks")]
    private partial void LogStoppingAll(int count);

    [LoggerMessage(Level = LogLevel.Warning, Message = "shutdown timed out: sending SIGKILL to the tasks still running")]
    private partial void LogKillingAll();

    [LoggerMessage(Level = LogLevel.Information, Message = "all tasks stopped")]
    private partial void LogAllStopped();
}
