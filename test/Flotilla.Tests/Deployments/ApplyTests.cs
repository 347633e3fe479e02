using Flotilla.Core.Deployments;
using Flotilla.Core.Events;
using Flotilla.Core.Spec;
using Flotilla.Tests.Autoscaling;
using Flotilla.Tests.Scheduling;

namespace Flotilla.Tests.Deployments;

/// <summary><see cref="Core.Fleet.FleetState.Apply"/>: a new spec carried out as its plan says, all or nothing.</summary>
public sealed class ApplyTests
{
    private readonly Fleets _fleet = new(Fleets.Service(desired: 3));

    private ServiceSpec Shop => _fleet.State.Services["shop"].Spec;

    [Fact]
    public void Apply_DesiredChanged_SetsTheCountWithoutANewRevision()
    {
        Apply(Shop with { Desired = 5 });

        Assert.Equal(5, _fleet.State.Services["shop"].Desired);
        Assert.Equal(1, _fleet.State.Services["shop"].Revision);
    }

    [Fact]
    public void Apply_AutoscaledService_KeepsTheAutoscalersCountInsteadOfTheFilesDesired()
    {
        Apply(Shop with { Autoscaling = Policies.Concurrency(min: 2, max: 10) });
        _fleet.State = _fleet.State.SetDesired("shop", 8, _fleet.Now, _fleet.Events, out _, "autoscaler: scale out");

        Apply(Shop with { Desired = 3, Autoscaling = Policies.Concurrency(min: 2, max: 12) });

        Assert.Equal(8, _fleet.State.Services["shop"].Desired);
        Assert.Equal(12, _fleet.State.Services["shop"].Spec.Autoscaling!.Max);
    }

    [Fact]
    public void Plan_DesiredOfAnAutoscaledService_SaysTheCountStaysTheAutoscalers()
    {
        Apply(Shop with { Autoscaling = Policies.Concurrency(min: 2, max: 10) });
        var plain = Plan(Shop with { Desired = 4, Autoscaling = null });
        var autoscaled = Plan(Shop with { Desired = 4 });

        Assert.Contains("desired: 3 → 4", plain.ServiceChanges);
        Assert.Contains("desired: 3 → 4 (autoscaled: the count stays the autoscaler's, within min 2 and max 10)", autoscaled.ServiceChanges);
    }

    [Fact]
    public void Apply_AutoscaledServiceWithALowerMax_BringsTheCountWithinIt()
    {
        Apply(Shop with { Autoscaling = Policies.Concurrency(min: 2, max: 10) });
        _fleet.State = _fleet.State.SetDesired("shop", 8, _fleet.Now, _fleet.Events, out _, "autoscaler: scale out");

        Apply(Shop with { Autoscaling = Policies.Concurrency(min: 2, max: 4) });

        Assert.Equal(4, _fleet.State.Services["shop"].Desired);
        Assert.Contains(_fleet.Events, e => e.Reason == EventReasons.Scaled && e.Message.Contains("within autoscaling min 2 and max 4", StringComparison.Ordinal));
    }

    [Fact]
    public void Apply_AccessLogChanged_TakesEffectAtOnce_AndIsShownInThePlan()
    {
        var before = _fleet.State;
        var next = before.Spec with { AccessLog = new AccessLogSpec { Stdout = true, MaxFiles = 2 } };

        var plan = SpecPlan.Between(before, next);
        var after = before.Apply(next, plan, "flotilla.yaml", _fleet.Now, _fleet.Events, out var error);

        Assert.Null(error);
        Assert.Empty(plan.Refused);
        Assert.Equal(["accessLog.stdout: false → true", "accessLog.maxFiles: 5 → 2"], plan.AccessLogChanges);
        Assert.EndsWith("0 listener changes, 2 access-log changes", plan.Summary);
        Assert.Equal(next.AccessLog, after.Spec.AccessLog);
    }

    [Fact]
    public void Apply_RefusedChange_LeavesEverythingAsItWas()
    {
        var before = _fleet.State;
        var next = before.Spec with
        {
            Services = [Shop with { Desired = 5 }],
            Admin = before.Spec.Admin with { Listen = new ListenAddress("127.0.0.1", 1) },
        };

        var after = before.Apply(next, SpecPlan.Between(before, next), "flotilla.yaml", _fleet.Now, _fleet.Events, out var error);

        Assert.StartsWith("cannot apply without a restart: admin.listen", error);
        Assert.Same(before, after);
    }

    [Fact]
    public void Apply_LoadBalancerTimeouts_NeedARestart()
    {
        var before = _fleet.State;
        var next = before.Spec with { LoadBalancer = before.Spec.LoadBalancer with { RequestTimeout = TimeSpan.FromSeconds(5) } };

        var plan = SpecPlan.Between(before, next);
        var after = before.Apply(next, plan, "flotilla.yaml", _fleet.Now, _fleet.Events, out var error);

        Assert.Equal(["loadBalancer.requestTimeout: 30s → 5s"], plan.Refused);
        Assert.StartsWith("cannot apply without a restart: loadBalancer.requestTimeout", error);
        Assert.Same(before, after);
    }

    [Fact]
    public void Apply_ServiceReAddedWhileItsTasksAreStopping_LivesOnWithNewTasksAndTheNewDefinition()
    {
        string[] old = [_fleet.StartHealthy(), _fleet.StartHealthy(), _fleet.StartHealthy()];
        var shop = Shop;
        Apply();
        _fleet.Reconcile();
        Assert.True(_fleet.State.Services["shop"].Removing);

        Apply(shop with { Env = shop.Env.SetItem("COLOR", "blue") });
        var (_, started) = _fleet.Reconcile();
        foreach (var id in old)
        {
            _fleet.Exit(id, 0);
        }

        var service = _fleet.State.Services["shop"];
        Assert.False(service.Removing);
        Assert.Equal(3, service.Desired);
        Assert.Equal(2, service.Revision);
        Assert.Equal("blue", service.Spec.Env["COLOR"]);
        Assert.Equal(3, started.Count);
        Assert.Empty(started.Select(t => t.Id).Intersect(old));
        Assert.Equal(["shop"], _fleet.State.ServiceOrder);
        Assert.Equal(3, _fleet.Tasks().Count(t => t.IsLive));
    }

    private ServicePlan Plan(ServiceSpec shop) =>
        SpecPlan.Between(_fleet.State, _fleet.State.Spec with { Services = [shop] }).Services.Single();

    private void Apply(params ServiceSpec[] services)
    {
        var next = _fleet.State.Spec with { Services = [.. services] };
        _fleet.State = _fleet.State.Apply(next, SpecPlan.Between(_fleet.State, next), "flotilla.yaml", _fleet.Now, _fleet.Events, out var error);
        Assert.Null(error);
    }
}
