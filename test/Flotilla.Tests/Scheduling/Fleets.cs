using Flotilla.Core.Deployments;
using Flotilla.Core.Events;
using Flotilla.Core.Fleet;
using Flotilla.Core.Health;
using Flotilla.Core.Scheduling;
using Flotilla.Core.Spec;
using Microsoft.Extensions.Time.Testing;

namespace Flotilla.Tests.Scheduling;

/// <summary>Builds fleet states for decider tests: plain data on a fake clock.</summary>
internal sealed class Fleets
{
    private int _nextPort = 40_000;

    /// <summary>A fleet of <paramref name="services"/> whose first deployments are already over, as after a steady start.</summary>
    public Fleets(params ServiceSpec[] services)
        : this(firstDeploymentDone: true, services)
    {
    }

    /// <param name="firstDeploymentDone">False to leave each service's first deployment in progress, as at a real start.</param>
    /// <param name="services">The services.</param>
    public Fleets(bool firstDeploymentDone, params ServiceSpec[] services)
    {
        State = FleetState.FromSpec(new FlotillaSpec { Services = [.. services] }, Time.GetUtcNow());
        if (firstDeploymentDone)
        {
            foreach (var service in State.Services.Values)
            {
                State = State.WithService(service.WithDeployment(service.Deployments[0] with { Status = Core.Deployments.DeploymentStatus.Completed, EndedAt = Now }));
            }
        }
    }

    public FakeTimeProvider Time { get; } = new(new DateTimeOffset(2026, 11, 22, 10, 0, 0, TimeSpan.Zero));

    public FleetState State { get; set; }

    public List<FleetEvent> Events { get; } = [];

    public DateTimeOffset Now => Time.GetUtcNow();

    private static readonly HealthCheckSpec FastCheck = new()
    {
        Interval = TimeSpan.FromSeconds(1),
        Timeout = TimeSpan.FromMilliseconds(500),
        HealthyThreshold = 2,
        UnhealthyThreshold = 3,
        GracePeriod = TimeSpan.FromSeconds(5),
    };

    /// <summary>A service with a readiness check and, unless <paramref name="liveness"/> is false, the same check for liveness.</summary>
    public static ServiceSpec Service(string name = "shop", int desired = 3, bool liveness = true) => new()
    {
        Name = name,
        Command = ["app"],
        Desired = desired,
        Health = FastCheck,
        Liveness = liveness ? FastCheck : null,
    };

    public IEnumerable<TaskRecord> Tasks(string service = "shop") => State.TasksOf(service).OrderBy(t => t.Sequence);

    public TaskRecord Task(string id) => State.Tasks[id];

    /// <summary>One turn of the scheduler loop's pure part: decide (with a canary's figures, if due) and apply. Returns the decision and the tasks it started.</summary>
    public (SchedulerDecision Decision, List<TaskRecord> Started) Reconcile(string service = "shop", CanaryFigures? canary = null)
    {
        var decision = SchedulerDecider.Decide(State.Services[service], State.TasksOf(service), Now, canary);
        var started = new List<TaskRecord>();
        State = State.ApplyDecision(service, decision, Now, () => _nextPort++, Events, started);
        return (decision, started);
    }

    public string Start(string service = "shop")
    {
        State = State.AddTask(service, State.Services[service].Revision, _nextPort++, Now, out var task);
        State = State.TaskStarted(task.Id, 1000 + (int)task.Sequence, Now, Events);
        return task.Id;
    }

    public void Started(string id) => State = State.TaskStarted(id, 1000 + (int)Task(id).Sequence, Now, Events);

    public void Check(string id, bool passed) =>
        State = State.HealthChecked(id, passed ? HealthCheckResult.Pass : HealthCheckResult.Fail("HTTP 503"), Now, Events);

    public void CheckLiveness(string id, bool passed) =>
        State = State.LivenessChecked(id, passed ? HealthCheckResult.Pass : HealthCheckResult.Fail("connection refused"), Now, Events);

    public string StartHealthy(string service = "shop")
    {
        var id = Start(service);
        Check(id, true);
        Check(id, true);
        return id;
    }

    public void Exit(string id, int code) => State = State.TaskExited(id, code, Now, Events);

    public void Advance(TimeSpan by) => Time.Advance(by);
}
