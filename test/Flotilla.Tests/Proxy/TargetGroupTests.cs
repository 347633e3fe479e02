using Flotilla.Proxy;
using Flotilla.Core.Events;
using Flotilla.Core.Spec;
using Flotilla.Proxy.Targets;
using Flotilla.Tests.Scheduling;
using Microsoft.AspNetCore.Http;

namespace Flotilla.Tests.Proxy;

public sealed class TargetGroupTests
{
    private static readonly HttpRequestFields Context = new(new DefaultHttpContext());

    private readonly EventLog _events = new();

    /// <summary>A group and the fleet it follows, sharing one fake clock.</summary>
    private (TargetGroup Group, Fleets Fleet) Create(ServiceSpec? service = null)
    {
        var spec = (service ?? Fleets.Service()) with { LoadBalancing = new LoadBalancingSpec() };
        var fleet = new Fleets(spec);
        return (new TargetGroup(spec, fleet.Time, new Random(1), _events), fleet);
    }

    private static List<string> Eligible(TargetGroup group) => group.Current.Eligible.Targets.Select(t => t.TaskId).ToList();

    private static void Sync(TargetGroup group, Fleets fleet) => group.Update(fleet.Tasks());

    [Fact]
    public void Update_TaskNeverHealthy_GetsNoTarget_AndHealthyOnesAreEligible()
    {
        var (group, fleet) = Create();
        var starting = fleet.Start();
        var healthy = fleet.StartHealthy();

        Sync(group, fleet);

        Assert.Equal([healthy], Eligible(group));
        Assert.DoesNotContain(group.All, t => t.TaskId == starting);
        Assert.Equal(healthy, group.Pick(Context)?.TaskId);
    }

    [Fact]
    public void Update_ReadinessLost_TargetIsNoLongerEligible_AndBackWhenItPasses()
    {
        var (group, fleet) = Create(Fleets.Service() with { PanicThreshold = 0 });
        var a = fleet.StartHealthy();
        var b = fleet.StartHealthy();
        fleet.Advance(TimeSpan.FromSeconds(10));
        Sync(group, fleet);

        fleet.Check(a, false);
        fleet.Check(a, false);
        fleet.Check(a, false);
        Sync(group, fleet);
        var without = Eligible(group);
        fleet.Check(a, true);
        fleet.Check(a, true);
        Sync(group, fleet);

        Assert.Equal([b], without);
        Assert.Equal([a, b], Eligible(group));
    }

    [Fact]
    public void Update_FewerThanPanicThresholdHealthy_RoutesToAllKnownTargets_WithEvents()
    {
        var (group, fleet) = Create(Fleets.Service() with { PanicThreshold = 50 });
        var ids = new[] { fleet.StartHealthy(), fleet.StartHealthy(), fleet.StartHealthy() };
        var newcomer = fleet.Start();
        fleet.Advance(TimeSpan.FromSeconds(10));
        Sync(group, fleet);

        foreach (var id in ids[..2])
        {
            fleet.Check(id, false);
            fleet.Check(id, false);
            fleet.Check(id, false);
        }

        Sync(group, fleet);
        var inPanic = (group.Current.Panic, Eligible(group));
        fleet.Check(ids[0], true);
        fleet.Check(ids[0], true);
        Sync(group, fleet);

        Assert.True(inPanic.Panic);
        Assert.Equal(ids, inPanic.Item2);
        Assert.DoesNotContain(newcomer, inPanic.Item2);
        Assert.False(group.Current.Panic);
        Assert.Equal([ids[0], ids[2]], Eligible(group));
        Assert.Contains(_events.After(0), e => e.Reason == EventReasons.PanicMode && e.Message == "service shop is in panic mode: 1 of 3 targets healthy, below its 50% threshold; routing to all 3");
        Assert.Contains(_events.After(0), e => e.Reason == EventReasons.PanicModeEnded && e.Message == "service shop left panic mode: 2 of 3 targets healthy");
    }

    [Fact]
    public void ReportOutcome_Consecutive5xx_EjectsForBaseTimesCount_ThenItComesBack()
    {
        var (group, fleet) = Create();
        var a = fleet.StartHealthy();
        var b = fleet.StartHealthy();
        Sync(group, fleet);
        var target = group.All.Single(t => t.TaskId == a);

        for (var i = 0; i < 4; i++)
        {
            group.ReportOutcome(target, 502);
        }

        var beforeFifth = Eligible(group);
        group.ReportOutcome(target, 503);
        var ejected = Eligible(group);
        fleet.Advance(TimeSpan.FromSeconds(29));
        group.Pick(Context);
        var stillOut = Eligible(group);
        fleet.Advance(TimeSpan.FromSeconds(1));
        group.Pick(Context);

        Assert.Equal([a, b], beforeFifth);
        Assert.Equal([b], ejected);
        Assert.Equal([b], stillOut);
        Assert.Equal([a, b], Eligible(group));
        Assert.Contains(_events.After(0), e => e.Reason == EventReasons.TargetEjected && e.Message == $"task {a} ejected from the load balancer for 30s: 5 failed requests in a row (5xx or transport errors); ejection 1");
        Assert.Contains(_events.After(0), e => e.Reason == EventReasons.TargetReturned && e.Message == $"task {a} is back in the load balancer: its ejection time is over");
    }

    [Fact]
    public void ReportOutcome_SuccessInBetween_ResetsTheCount()
    {
        var (group, fleet) = Create();
        fleet.StartHealthy();
        fleet.StartHealthy();
        Sync(group, fleet);
        var target = group.All[0];

        for (var i = 0; i < 20; i++)
        {
            group.ReportOutcome(target, i % 4 == 3 ? 200 : 500);
        }

        Assert.Equal(2, Eligible(group).Count);
    }

    [Fact]
    public void ReportOutcome_EjectedAgain_StaysOutLongerUpToTheMax()
    {
        var (group, fleet) = Create(Fleets.Service() with { OutlierDetection = new OutlierDetectionSpec { Consecutive5xx = 1, BaseEjection = TimeSpan.FromSeconds(100), MaxEjection = TimeSpan.FromSeconds(250) } });
        fleet.StartHealthy();
        fleet.StartHealthy();
        Sync(group, fleet);
        var target = group.All[0];
        var durations = new List<string>();

        for (var round = 0; round < 3; round++)
        {
            group.ReportOutcome(target, 500);
            durations.Add(_events.After(0).Last(e => e.Reason == EventReasons.TargetEjected).Message.Split(" for ")[1].Split(':')[0]);
            fleet.Advance(TimeSpan.FromSeconds(250));
            group.Pick(Context);
        }

        Assert.Equal(["1m40s", "3m20s", "4m10s"], durations);
    }

    [Fact]
    public void ReportOutcome_MaxEjectionPercentReached_DoesNotEjectAnother()
    {
        var (group, fleet) = Create(Fleets.Service() with { OutlierDetection = new OutlierDetectionSpec { Consecutive5xx = 1, MaxEjectionPercent = 50 }, PanicThreshold = 0 });
        fleet.StartHealthy();
        fleet.StartHealthy();
        fleet.StartHealthy();
        Sync(group, fleet);

        foreach (var target in group.All)
        {
            group.ReportOutcome(target, 500);
        }

        Assert.Equal(2, Eligible(group).Count);
        Assert.Single(_events.After(0), e => e.Reason == EventReasons.TargetEjected);
    }

    [Fact]
    public void ReportOutcome_DetectionDisabled_NeverEjects()
    {
        var (group, fleet) = Create(Fleets.Service() with { OutlierDetection = new OutlierDetectionSpec { Enabled = false } });
        fleet.StartHealthy();
        Sync(group, fleet);

        for (var i = 0; i < 50; i++)
        {
            group.ReportOutcome(group.All[0], 500);
        }

        Assert.Single(Eligible(group));
    }

    [Fact]
    public void Update_ActiveCheckPassesAfterAnEjection_BringsTheTargetBackAtOnce()
    {
        var (group, fleet) = Create();
        var a = fleet.StartHealthy();
        fleet.StartHealthy();
        Sync(group, fleet);
        for (var i = 0; i < 5; i++)
        {
            group.ReportOutcome(group.All.Single(t => t.TaskId == a), 500);
        }

        fleet.Advance(TimeSpan.FromSeconds(1));
        fleet.Check(a, true);
        Sync(group, fleet);

        Assert.Contains(a, Eligible(group));
        Assert.Contains(_events.After(0), e => e.Message == $"task {a} is back in the load balancer: passed an active health check");
    }

    [Fact]
    public async Task DrainAsync_TakesTheTargetOut_AndCompletesWhenItsLastRequestEnds()
    {
        var (group, fleet) = Create();
        var a = fleet.StartHealthy();
        var b = fleet.StartHealthy();
        Sync(group, fleet);
        var target = group.All.Single(t => t.TaskId == a);
        target.RequestStarted(target.AddedTimestamp);

        var drain = group.DrainAsync(a, TimeSpan.FromSeconds(30), TestContext.Current.CancellationToken);
        var whileDraining = Eligible(group);
        var doneEarly = drain.IsCompleted;
        target.RequestEnded(target.AddedTimestamp);

        Assert.Equal(0, await drain);
        Assert.False(doneEarly);
        Assert.Equal([b], whileDraining);
    }

    [Fact]
    public async Task DrainAsync_DelayOver_ReportsTheRequestsStillInFlight()
    {
        var (group, fleet) = Create();
        var a = fleet.StartHealthy();
        Sync(group, fleet);
        var target = group.All.Single(t => t.TaskId == a);
        target.RequestStarted(target.AddedTimestamp);
        target.RequestStarted(target.AddedTimestamp);

        var drain = group.DrainAsync(a, TimeSpan.FromSeconds(30), TestContext.Current.CancellationToken);
        fleet.Advance(TimeSpan.FromSeconds(30));

        Assert.Equal(2, await drain);
    }

    [Fact]
    public void Update_SlowStartAndWeight_ComeFromTheSpecAndTheTask()
    {
        var (group, fleet) = Create(Fleets.Service() with { SlowStart = TimeSpan.FromSeconds(20) });
        var a = fleet.StartHealthy();
        fleet.State = fleet.State.SetWeight(a, 8, fleet.Now, fleet.Events, out _);
        Sync(group, fleet);
        var target = group.All.Single();

        var atStart = target.EffectiveWeight(fleet.Time.GetTimestamp());
        fleet.Advance(TimeSpan.FromSeconds(10));
        var halfway = target.EffectiveWeight(fleet.Time.GetTimestamp());

        Assert.Equal(8, target.Weight);
        Assert.Equal(0.8, atStart, precision: 6);
        Assert.Equal(8 * 0.55, halfway, precision: 6);
    }

    [Fact]
    public void Update_TaskStopped_RemovesItsTarget()
    {
        var (group, fleet) = Create();
        var a = fleet.StartHealthy();
        Sync(group, fleet);

        fleet.Advance(TimeSpan.FromSeconds(30));
        fleet.Exit(a, 0);
        Sync(group, fleet);

        Assert.Empty(group.All);
        Assert.Null(group.Pick(Context));
    }
}
