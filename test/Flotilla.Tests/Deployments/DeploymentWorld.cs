using Flotilla.Core.Deployments;
using Flotilla.Core.Fleet;
using Flotilla.Core.Metrics;
using Flotilla.Core.Spec;
using Flotilla.Tests.Scheduling;

namespace Flotilla.Tests.Deployments;

/// <summary>
/// A deterministic little world for the deployment decider, one second at a time on the fake clock: the decider's new
/// tasks start at once; a revision's tasks pass every check, crash at once, or never pass, as the test says; draining
/// tasks drain at once and exit on SIGTERM. After every decision it checks what must hold at every moment.
/// </summary>
internal sealed class DeploymentWorld
{
    private readonly Dictionary<int, Behaviour> _behaviours = [];

    public DeploymentWorld(ServiceSpec service, bool firstDeploymentDone = true)
    {
        Fleet = new Fleets(firstDeploymentDone, service);
    }

    public enum Behaviour
    {
        Healthy,
        CrashAtStart,
        NeverHealthy,
    }

    public Fleets Fleet { get; }

    /// <summary>Called after every decision, to assert bounds; it sees the state the decision produced.</summary>
    public Action<FleetState>? Invariant { get; set; }

    /// <summary>The figures handed to the decider whenever a canary step is due.</summary>
    public Func<CanaryFigures>? Figures { get; set; }

    public ServiceState Service => Fleet.State.Services["shop"];

    public DeploymentRecord Latest => Service.Deployments[^1];

    public IEnumerable<TaskRecord> Live => Fleet.Tasks().Where(t => t.IsLive);

    public void Behave(int revision, Behaviour behaviour) => _behaviours[revision] = behaviour;

    /// <summary>Runs until <paramref name="done"/> holds, at most <paramref name="seconds"/> seconds; false if it never did.</summary>
    public bool RunUntil(Func<DeploymentWorld, bool> done, int seconds = 600)
    {
        for (var second = 0; second < seconds; second++)
        {
            if (done(this))
            {
                return true;
            }

            Tick();
        }

        return done(this);
    }

    /// <summary>A deploy of a new task definition (an env change makes a new revision).</summary>
    public void Deploy(string value = "2")
    {
        var spec = Service.Spec with { Env = Service.Spec.Env.SetItem("VERSION", value) };
        Fleet.State = Fleet.State.Deploy("shop", spec, "deploy", Fleet.Now, Fleet.Events, out var error);
        Assert.Null(error);
    }

    public void Tick()
    {
        var service = Service;
        var canary = DeploymentDecider.AnalysisDue(service, Fleet.Now) is not null ? Figures?.Invoke() : null;
        Fleet.Reconcile("shop", canary);
        Invariant?.Invoke(Fleet.State);

        foreach (var task in Fleet.Tasks().ToList())
        {
            var behaviour = _behaviours.GetValueOrDefault(task.Revision, Behaviour.Healthy);
            switch (task.State)
            {
                case TaskState.Pending:
                    Fleet.Started(task.Id);
                    if (behaviour == Behaviour.CrashAtStart)
                    {
                        Fleet.Exit(task.Id, 1);
                    }

                    break;
                case TaskState.Running when behaviour == Behaviour.Healthy:
                    Fleet.Check(task.Id, true);
                    break;
                case TaskState.Running:
                    Fleet.Check(task.Id, false);
                    break;
                case TaskState.Draining:
                    Fleet.State = Fleet.State.DrainCompleted(task.Id, 0, TimeSpan.Zero, Fleet.Now, Fleet.Events);
                    break;
                case TaskState.Stopping:
                    Fleet.Exit(task.Id, 0);
                    break;
            }
        }

        Fleet.Advance(TimeSpan.FromSeconds(1));
    }

    /// <summary>A service of the sample's shape with the given deployment settings and desired count.</summary>
    public static ServiceSpec ServiceWith(int desired, DeploymentSpec? deployment = null) =>
        Fleets.Service("shop", desired) with { Deployment = deployment ?? new DeploymentSpec() };

    public static CanaryFigures Evidence(long canaryRequests, long canaryErrors, double canaryP99, long stableRequests = 1000, long stableErrors = 0, double stableP99 = 0.010) =>
        new(new GroupFigures(canaryRequests, canaryErrors, canaryP99), new GroupFigures(stableRequests, stableErrors, stableP99));

    /// <summary>Brings a fresh fleet to its desired count of healthy tasks of revision 1.</summary>
    public void Settle() => Assert.True(RunUntil(w => w.Live.Count(t => t.IsInService) == w.Service.Desired && w.Live.Count() == w.Service.Desired, 60), "the first tasks healthy");
}
