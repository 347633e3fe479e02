using System.Collections.Immutable;
using Flotilla.Core.Autoscaling;
using Flotilla.Core.Events;
using Flotilla.Core.Fleet;
using Flotilla.Core.Health;
using Flotilla.Core.Metrics;
using Flotilla.Core.Scheduling;
using Flotilla.Core.Spec;
using Microsoft.Extensions.Time.Testing;

namespace Flotilla.Tests.Autoscaling;

/// <summary>
/// A service on a fake clock, second by second: a synthetic trace is recorded into a real <see cref="MetricStore"/>, the
/// real scheduler starts and stops tasks (each healthy <see cref="StartupTime"/> after it starts), and every evaluation
/// interval the real input reader and <see cref="AutoscalerDecider"/> decide. Only processes and sockets are missing.
/// </summary>
internal sealed class ScalingSimulation
{
    public const string Service = "shop";

    private readonly Dictionary<string, DateTimeOffset> _healthyAt = [];
    private readonly Dictionary<int, TimeSpan> _startupOfRevision = [];
    private readonly ImmutableArray<IScalingPolicy> _policies;
    private int _nextPort = 40_000;
    private DateTimeOffset _nextEvaluation;

    public ScalingSimulation(AutoscalingSpec autoscaling, int desired)
    {
        Time = new FakeTimeProvider(new DateTimeOffset(2026, 11, 23, 10, 0, 0, TimeSpan.Zero));
        Store = new MetricStore(Time);
        Spec = autoscaling;
        _policies = ScalingPolicies.Create(autoscaling);
        var service = new ServiceSpec
        {
            Name = Service,
            Command = ["app"],
            Desired = desired,
            Health = new HealthCheckSpec { Interval = TimeSpan.FromSeconds(1), Timeout = TimeSpan.FromMilliseconds(500) },
            Autoscaling = autoscaling,
        };
        Fleet = FleetState.FromSpec(new FlotillaSpec { Services = [service] }, Now);
        _startupOfRevision[1] = TimeSpan.Zero;

        // The first deployment: its tasks are healthy at once, and it completes on the scheduler's next turns.
        for (var turn = 0; turn < 3 && Fleet.Services[Service].ActiveDeployment is not null; turn++)
        {
            Reconcile();
        }

        Assert.Null(Fleet.Services[Service].ActiveDeployment);
        _startupOfRevision.Remove(1); // later tasks of revision 1 (scale-outs, replacements) take StartupTime
        _nextEvaluation = Now + autoscaling.EvaluationInterval;
    }

    public FakeTimeProvider Time { get; }

    public MetricStore Store { get; }

    public AutoscalingSpec Spec { get; }

    public FleetState Fleet { get; private set; }

    public AutoscalerState State { get; private set; } = AutoscalerState.Initial;

    /// <summary>How long a new task takes to become healthy.</summary>
    public static readonly TimeSpan StartupTime = TimeSpan.FromSeconds(5);

    public DateTimeOffset Now => Time.GetUtcNow();

    /// <summary>Every evaluation's decision, in order.</summary>
    public List<(DateTimeOffset At, AutoscalerDecision Decision)> Decisions { get; } = [];

    public List<FleetEvent> Events { get; } = [];

    /// <summary>The changes the autoscaler made.</summary>
    public IEnumerable<ScalingChange> Changes => Decisions.Where(d => d.Decision.NewDesired is not null).Select(d => d.Decision.State.LastChange!);

    public int Desired => Fleet.Services[Service].Desired;

    public AutoscalerDecision Last => Decisions[^1].Decision;

    /// <summary>
    /// Runs for <paramref name="duration"/>, second by second: <paramref name="record"/> records the second's figures
    /// (given the seconds since the run began and the tasks in service), then the second closes, the scheduler acts, and
    /// the autoscaler evaluates when its interval has passed.
    /// </summary>
    public void Run(TimeSpan duration, Action<double, IReadOnlyList<TaskRecord>> record)
    {
        for (var second = 0; second < (int)duration.TotalSeconds; second++)
        {
            record(second, [.. Fleet.TasksOf(Service).Where(t => t.IsInService).OrderBy(t => t.Sequence)]);
            Time.Advance(TimeSpan.FromSeconds(1));
            Store.Advance();
            Reconcile();
            if (Now >= _nextEvaluation)
            {
                Evaluate();
                _nextEvaluation += Spec.EvaluationInterval;
            }
        }
    }

    /// <summary>Total requests in flight at the load balancer, spread evenly over the tasks in service.</summary>
    public void Run(TimeSpan duration, Func<double, double> inFlight) =>
        Run(duration, (second, tasks) => Spread(Metric.InFlight, tasks, inFlight(second)));

    /// <summary>Records <paramref name="total"/> shared evenly among <paramref name="tasks"/>.</summary>
    public void Spread(Metric metric, IReadOnlyList<TaskRecord> tasks, double total)
    {
        foreach (var task in tasks)
        {
            Store.SetGauge(Service, task.Id, metric, total / tasks.Count);
        }
    }

    /// <summary>
    /// Deploys a new revision (a changed environment) whose tasks take <paramref name="startup"/> to become healthy, with
    /// a health-check grace period to match; the real deployment decider moves the service over as they do.
    /// </summary>
    public void Deploy(TimeSpan startup)
    {
        var spec = Fleet.Services[Service].Spec;
        var next = spec with { Env = spec.Env.SetItem("REVISION", $"{Fleet.Services[Service].Revision + 1}"), Health = spec.Health with { GracePeriod = startup } };
        Fleet = Fleet.Deploy(Service, next, "test", Now, Events, out var error);
        Assert.Null(error);
        _startupOfRevision[Fleet.Services[Service].Revision] = startup;
    }

    /// <summary>A count set by hand, as <c>flotilla scale</c> does.</summary>
    public void ScaleByHand(int desired) => Fleet = Fleet.SetDesired(Service, desired, Now, Events, out _);

    private void Evaluate()
    {
        var inputs = ScalingInputReader.Read(Store, Fleet, Fleet.Services[Service], _policies, Now);
        var decision = AutoscalerDecider.Decide(Spec, _policies, inputs, State);
        Decisions.Add((Now, decision));
        State = decision.State;
        if (decision.NewDesired is { } desired)
        {
            Fleet = Fleet.SetDesired(Service, desired, Now, Events, out var error, decision.Reason);
            Assert.Null(error);
        }
    }

    /// <summary>
    /// The scheduler's turn: start and stop tasks; tasks started their revision's start-up time ago (by default
    /// <see cref="StartupTime"/>) pass their checks.
    /// </summary>
    private void Reconcile()
    {
        var decision = SchedulerDecider.Decide(Fleet.Services[Service], Fleet.TasksOf(Service), Now);
        var started = new List<TaskRecord>();
        Fleet = Fleet.ApplyDecision(Service, decision, Now, () => _nextPort++, Events, started);
        foreach (var task in started)
        {
            Fleet = Fleet.TaskStarted(task.Id, 1000 + (int)task.Sequence, Now, Events);
            _healthyAt[task.Id] = Now + _startupOfRevision.GetValueOrDefault(task.Revision, StartupTime);
        }

        foreach (var task in Fleet.TasksOf(Service).Where(t => t.State == TaskState.Running && t.Health.State != HealthState.Healthy && _healthyAt[t.Id] <= Now).ToList())
        {
            Fleet = Fleet.HealthChecked(task.Id, HealthCheckResult.Pass, Now, Events);
            Fleet = Fleet.HealthChecked(task.Id, HealthCheckResult.Pass, Now, Events);
        }

        // A stop is quick here: the task has left the load balancer, which is all the autoscaler sees of it.
        foreach (var task in Fleet.TasksOf(Service).Where(t => t.State is TaskState.Draining or TaskState.Stopping).ToList())
        {
            Fleet = Fleet.TaskExited(task.Id, 0, Now, Events);
            Store.TaskStopped(Service, task.Id);
        }
    }
}
