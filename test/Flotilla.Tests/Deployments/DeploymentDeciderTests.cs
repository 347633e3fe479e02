using Flotilla.Core.Deployments;
using Flotilla.Core.Events;
using Flotilla.Core.Fleet;
using Flotilla.Core.Spec;

namespace Flotilla.Tests.Deployments;

public sealed class DeploymentDeciderTests
{
    public static TheoryData<int, int, int> Bounds()
    {
        var data = new TheoryData<int, int, int>();
        foreach (var desired in new[] { 1, 3, 10 })
        {
            foreach (var (min, max) in new[] { (0, 100), (50, 200), (100, 200), (100, 150) })
            {
                data.Add(desired, min, max);
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Bounds))]
    public void Rolling_EveryMoment_KeepsMinHealthyAndMaxPercent_AndReplacesEveryOldTask(int desired, int minHealthyPercent, int maxPercent)
    {
        var world = new DeploymentWorld(DeploymentWorld.ServiceWith(desired, new DeploymentSpec { MinHealthyPercent = minHealthyPercent, MaxPercent = maxPercent }));
        world.Settle();
        var oldIds = world.Live.Select(t => t.Id).ToList();
        var minHealthy = (int)Math.Ceiling(desired * minHealthyPercent / 100.0);
        var maxPresent = Math.Max(desired * maxPercent / 100, minHealthy + 1);
        world.Invariant = state =>
        {
            var tasks = state.TasksOf("shop").ToList();
            var healthy = tasks.Count(t => t.IsInService && t.State == TaskState.Running);
            var present = tasks.Count(t => t.State != TaskState.Stopped);
            Assert.True(healthy >= minHealthy, $"{healthy} healthy < minHealthy {minHealthy}");
            Assert.True(present <= maxPresent, $"{present} tasks > max {maxPresent}");
        };

        world.Deploy();
        var completed = world.RunUntil(w => w.Latest.Status == DeploymentStatus.Completed);

        Assert.True(completed, $"deployment {world.Latest.Status}: {world.Latest.Outcome}");
        Assert.All(world.Live, t => Assert.Equal(2, t.Revision));
        Assert.Equal(desired, world.Live.Count(t => t.IsInService));
        Assert.All(world.Fleet.Tasks().Where(t => oldIds.Contains(t.Id)), t => Assert.Equal(("replaced by deployment 2", TaskState.Stopped), (t.StoppedReason, t.State)));
        Assert.Contains(world.Fleet.Events, e => e.Reason == EventReasons.DeploymentCompleted && e.Message.StartsWith($"deployment 2 of shop completed: revision 2 runs on {desired} healthy task", StringComparison.Ordinal));
        Assert.Null(world.Service.Traffic);
    }

    [Fact]
    public void Rolling_DefaultBounds_StartsNewTasksBeforeStoppingAnyOldOne()
    {
        var world = new DeploymentWorld(DeploymentWorld.ServiceWith(3));
        world.Settle();

        world.Deploy();
        world.Tick();

        Assert.Equal(3, world.Live.Count(t => t.Revision == 2));
        Assert.Equal(3, world.Live.Count(t => t.Revision == 1 && t.IsInService));
    }

    [Fact]
    public void Rolling_ZeroMinHealthy_StopsEveryOldTaskAtOnce()
    {
        var world = new DeploymentWorld(DeploymentWorld.ServiceWith(3, new DeploymentSpec { MinHealthyPercent = 0, MaxPercent = 100 }));
        world.Settle();

        world.Deploy();
        world.Tick();

        Assert.DoesNotContain(world.Live, t => t.Revision == 1);
    }

    [Theory]
    [InlineData(1, 3)]
    [InlineData(3, 3)]
    [InlineData(10, 5)]
    [InlineData(11, 6)]
    [InlineData(1000, 200)]
    public void FailureThreshold_IsHalfTheDesiredCountBetweenThreeAndTwoHundred(int desired, int threshold) =>
        Assert.Equal(threshold, DeploymentRecord.FailureThreshold(desired));

    [Fact]
    public void CircuitBreaker_RevisionCrashingAtStart_FailsAtTheThresholdAndRollsBack_LeavingOldTasksUntouched()
    {
        var world = new DeploymentWorld(DeploymentWorld.ServiceWith(3));
        world.Settle();
        var old = world.Live.Select(t => (t.Id, t.Pid)).ToList();
        world.Behave(2, DeploymentWorld.Behaviour.CrashAtStart);

        world.Deploy();
        world.RunUntil(w => w.Service.Deployments.Any(d => d.Id == 2 && !d.IsActive), 300);
        var failed = world.Service.Deployments.Single(d => d.Id == 2);
        world.RunUntil(w => w.Latest.Status == DeploymentStatus.Completed, 300);

        Assert.Equal(DeploymentStatus.RolledBack, failed.Status);
        Assert.Equal(3, failed.FailedTasks);
        Assert.Equal("3 tasks of revision 2 failed to become healthy (circuit breaker threshold 3); rolling back to revision 1", failed.Outcome);
        Assert.Equal((3, 1, 2), (world.Latest.Id, world.Latest.ToRevision, world.Latest.RollbackOf));
        Assert.Equal(old, world.Live.Select(t => (t.Id, t.Pid)).ToList());
        Assert.Contains(world.Fleet.Events, e => e.Reason == EventReasons.DeploymentFailed && e.IsWarning);
        Assert.Equal(1, world.Service.Revision);
    }

    [Fact]
    public void CircuitBreaker_NewTasksNeverHealthy_AreStoppedAsFailedAfterTheirGracePeriodAndTripIt()
    {
        var world = new DeploymentWorld(DeploymentWorld.ServiceWith(3));
        world.Settle();
        world.Behave(2, DeploymentWorld.Behaviour.NeverHealthy);

        world.Deploy();
        world.RunUntil(w => w.Service.Deployments.Single(d => d.Id == 2).Status != DeploymentStatus.InProgress, 300);

        Assert.Equal(DeploymentStatus.RolledBack, world.Service.Deployments.Single(d => d.Id == 2).Status);
        Assert.Contains(world.Fleet.Tasks(), t => t.Revision == 2 && t.StoppedReason == StopReasons.NeverHealthy);
        Assert.Equal(3, world.Live.Count(t => t.Revision == 1 && t.IsInService));
    }

    [Fact]
    public void CircuitBreaker_Off_KeepsTryingWithoutFailing()
    {
        var world = new DeploymentWorld(DeploymentWorld.ServiceWith(1, new DeploymentSpec { CircuitBreaker = false }));
        world.Settle();
        world.Behave(2, DeploymentWorld.Behaviour.CrashAtStart);

        world.Deploy();
        world.RunUntil(_ => false, 120);

        Assert.Equal(DeploymentStatus.InProgress, world.Latest.Status);
        Assert.True(world.Latest.FailedTasks >= 5);
        Assert.Single(world.Live, t => t.Revision == 1 && t.IsInService);
    }

    [Fact]
    public void CircuitBreaker_FirstDeploymentOfABrokenService_FailsWithNothingToRollBackTo()
    {
        var world = new DeploymentWorld(DeploymentWorld.ServiceWith(1), firstDeploymentDone: false);
        world.Behave(1, DeploymentWorld.Behaviour.CrashAtStart);

        world.RunUntil(w => !w.Latest.IsActive, 300);

        Assert.Equal(DeploymentStatus.Failed, world.Latest.Status);
        Assert.EndsWith("no earlier revision completed a deployment, so there is nothing to roll back to", world.Latest.Outcome);
    }

    [Fact]
    public void FirstDeployment_SlowStarters_AreNotStoppedForMissingTheirDeadline()
    {
        var world = new DeploymentWorld(DeploymentWorld.ServiceWith(2), firstDeploymentDone: false);
        world.Behave(1, DeploymentWorld.Behaviour.NeverHealthy);

        world.RunUntil(_ => false, 120);

        Assert.Equal(DeploymentStatus.InProgress, world.Latest.Status);
        Assert.Equal(["shop-1", "shop-2"], world.Live.Select(t => t.Id));
    }

    [Fact]
    public void FirstDeployment_CompletesWhenTheDesiredTasksAreHealthy()
    {
        var world = new DeploymentWorld(DeploymentWorld.ServiceWith(3), firstDeploymentDone: false);

        Assert.True(world.RunUntil(w => w.Latest.Status == DeploymentStatus.Completed, 60));
        Assert.Equal(3, world.Live.Count(t => t.IsInService));
    }

    [Fact]
    public void Supersede_SecondDeployDuringTheFirst_ReplacesItAndDrainsTheInBetweenRevisionToo()
    {
        var world = new DeploymentWorld(DeploymentWorld.ServiceWith(3));
        world.Settle();

        world.Deploy("2");
        world.Tick();
        world.Tick();
        world.Deploy("3");
        var done = world.RunUntil(w => w.Latest.Status == DeploymentStatus.Completed);

        Assert.True(done);
        Assert.Equal(DeploymentStatus.Superseded, world.Service.Deployments.Single(d => d.Id == 2).Status);
        Assert.Equal("superseded by deployment 3", world.Service.Deployments.Single(d => d.Id == 2).Outcome);
        Assert.All(world.Live, t => Assert.Equal(3, t.Revision));
        Assert.All(world.Fleet.Tasks().Where(t => t.Revision == 2), t => Assert.Equal("replaced by deployment 3", t.StoppedReason));
    }

    [Fact]
    public void Scale_DuringADeployment_AppliesToTheNewRevision()
    {
        var world = new DeploymentWorld(DeploymentWorld.ServiceWith(2));
        world.Settle();

        world.Deploy();
        world.Tick();
        world.Fleet.State = world.Fleet.State.SetDesired("shop", 4, world.Fleet.Now, world.Fleet.Events, out _);
        world.RunUntil(w => w.Latest.Status == DeploymentStatus.Completed);

        Assert.Equal(4, world.Live.Count(t => t.Revision == 2 && t.IsInService));
        Assert.DoesNotContain(world.Live, t => t.Revision == 1);
    }

    [Fact]
    public void Rollback_ByUser_DeploysThePreviousCompletedRevision()
    {
        var world = new DeploymentWorld(DeploymentWorld.ServiceWith(2));
        world.Settle();
        world.Deploy();
        world.RunUntil(w => w.Latest.Status == DeploymentStatus.Completed);

        world.Fleet.State = world.Fleet.State.Rollback("shop", null, world.Fleet.Now, world.Fleet.Events, out var error);
        world.RunUntil(w => w.Latest.Status == DeploymentStatus.Completed);

        Assert.Null(error);
        Assert.Equal((1, 2), (world.Latest.ToRevision, world.Latest.RollbackOf));
        Assert.All(world.Live, t => Assert.Equal(1, t.Revision));
        Assert.Equal(2, world.Service.Revisions.Length);
    }

    [Fact]
    public void Rollback_NothingEarlierOrUnknownRevision_Explains()
    {
        var world = new DeploymentWorld(DeploymentWorld.ServiceWith(1));
        world.Settle();

        world.Fleet.State.Rollback("shop", null, world.Fleet.Now, world.Fleet.Events, out var nothing);
        world.Fleet.State.Rollback("shop", 7, world.Fleet.Now, world.Fleet.Events, out var unknown);
        world.Fleet.State.Rollback("shop", 1, world.Fleet.Now, world.Fleet.Events, out var same);

        Assert.Equal("no earlier revision of shop has completed a deployment; name one with --to", nothing);
        Assert.Equal("shop has no revision 7; revisions: 1 to 1", unknown);
        Assert.Equal("shop is already at revision 1", same);
    }

    [Fact]
    public void Deploy_SameTaskDefinition_IsRefused()
    {
        var world = new DeploymentWorld(DeploymentWorld.ServiceWith(1));

        world.Fleet.State.Deploy("shop", world.Service.Spec with { Desired = 5 }, "deploy", world.Fleet.Now, world.Fleet.Events, out var error);

        Assert.Equal("the task definition of shop would not change; nothing to deploy", error);
    }

    [Fact]
    public void Deploy_NewRevision_RecordsWhatChangedWithoutEnvValues()
    {
        var world = new DeploymentWorld(DeploymentWorld.ServiceWith(1) with { Env = System.Collections.Immutable.ImmutableSortedDictionary<string, string>.Empty.Add("SECRET", "hunter2") });
        var spec = world.Service.Spec with
        {
            Env = world.Service.Spec.Env.SetItem("SECRET", "hunter3").Add("MODE", "fast"),
            Health = world.Service.Spec.Health with { Path = "/ready" },
            Command = ["app", "--v2"],
        };

        world.Fleet.State = world.Fleet.State.Deploy("shop", spec, "deploy", world.Fleet.Now, world.Fleet.Events, out _);

        Assert.Equal(["command: [app] → [app, --v2]", "env.MODE: added", "env.SECRET: changed", "health.path: /health → /ready"], world.Service.Revisions[1].Changes);
        Assert.DoesNotContain(world.Fleet.Events, e => e.Message.Contains("hunter", StringComparison.Ordinal));
    }

    private static DeploymentWorld Canary(int desired, int[] steps)
    {
        var world = new DeploymentWorld(DeploymentWorld.ServiceWith(desired, new DeploymentSpec
        {
            Strategy = DeploymentStrategy.Canary,
            Steps = [.. steps],
            StepDuration = TimeSpan.FromSeconds(10),
        }));
        world.Settle();
        return world;
    }

    [Fact]
    public void Canary_PassingSteps_ShiftTrafficStepByStepThenPromote()
    {
        var world = Canary(4, [25, 50, 100]);
        world.Figures = () => DeploymentWorld.Evidence(canaryRequests: 500, canaryErrors: 0, canaryP99: 0.011);
        var traffic = new List<string>();
        world.Invariant = state => traffic.Add(state.Services["shop"].Traffic is { } t ? string.Join(",", t.OrderBy(kv => kv.Key).Select(kv => $"{kv.Key}:{kv.Value}")) : "all");

        world.Deploy();
        var done = world.RunUntil(w => w.Latest.Status == DeploymentStatus.Completed, 120);

        Assert.True(done, world.Latest.Outcome);
        Assert.Equal(["1:100", "1:75,2:25", "1:50,2:50", "2:100", "all"], traffic.Distinct());
        Assert.All(world.Live, t => Assert.Equal(2, t.Revision));
        Assert.Equal(2, world.Fleet.Events.Count(e => e.Reason == EventReasons.DeploymentProgress && e.Message.Contains("passed: error rate 0%", StringComparison.Ordinal)));
        Assert.Contains(world.Fleet.Events, e => e.Message == "deployment 2 of shop: canary step 1 of 3: 25% of traffic to revision 2 on 1 task");
    }

    [Fact]
    public void Canary_StepFailingItsErrorRate_RollsBackAtOnceWithTheFiguresInTheEvent()
    {
        var world = Canary(4, [25, 50, 100]);
        world.Figures = () => DeploymentWorld.Evidence(canaryRequests: 500, canaryErrors: 100, canaryP99: 0.011);

        world.Deploy();
        world.RunUntil(w => w.Service.Deployments.Single(d => d.Id == 2).Status != DeploymentStatus.InProgress, 60);
        var failed = world.Service.Deployments.Single(d => d.Id == 2);
        var trafficAtRollback = world.Service.Traffic;
        world.RunUntil(w => w.Latest.Status == DeploymentStatus.Completed, 60);

        Assert.Equal(DeploymentStatus.RolledBack, failed.Status);
        Assert.StartsWith("canary step 1 (25%) failed: error rate 20% > 1% (stable 0%)", failed.Outcome);
        Assert.Equal(100, trafficAtRollback![1]);
        Assert.All(world.Live, t => Assert.Equal(1, t.Revision));
        Assert.Equal(4, world.Live.Count(t => t.IsInService));
        Assert.Contains(world.Fleet.Events, e => e.Reason == EventReasons.DeploymentFailed && e.Message.Contains("error rate 20% > 1%", StringComparison.Ordinal));
    }

    [Fact]
    public void Canary_StepTooSlow_FailsOnItsP99Ratio()
    {
        var world = Canary(2, [50, 100]);
        world.Figures = () => DeploymentWorld.Evidence(canaryRequests: 500, canaryErrors: 0, canaryP99: 0.030, stableP99: 0.010);

        world.Deploy();
        world.RunUntil(w => w.Service.Deployments.Single(d => d.Id == 2).Status != DeploymentStatus.InProgress, 60);

        Assert.Contains("p99 30ms vs stable 10ms (ratio 3.00 > 1.5)", world.Service.Deployments.Single(d => d.Id == 2).Outcome);
    }

    [Fact]
    public void Canary_TooFewRequestsToJudge_PromotesTheStepAndSaysSo()
    {
        var world = Canary(2, [50, 100]);
        world.Figures = () => DeploymentWorld.Evidence(canaryRequests: 3, canaryErrors: 3, canaryP99: 1);

        world.Deploy();
        var done = world.RunUntil(w => w.Latest.Status == DeploymentStatus.Completed, 60);

        Assert.True(done);
        Assert.Contains(world.Fleet.Events, e => e.Message.Contains("not judged: the canary served 3 requests, fewer than minRequests 20", StringComparison.Ordinal));
    }

    private static DeploymentWorld BlueGreen(int desired)
    {
        var world = new DeploymentWorld(DeploymentWorld.ServiceWith(desired, new DeploymentSpec { Strategy = DeploymentStrategy.BlueGreen, BakeTime = TimeSpan.FromSeconds(30) }));
        world.Settle();
        return world;
    }

    [Fact]
    public void BlueGreen_SwitchesAllTrafficOnceTheNewSetIsHealthy_BakesThenStopsTheOldSet()
    {
        var world = BlueGreen(3);
        var old = world.Live.Select(t => t.Id).ToHashSet();

        world.Deploy();
        world.RunUntil(w => w.Latest.SwitchedAt is not null, 60);
        var atSwitch = (world.Service.Traffic, OldRunning: world.Live.Count(t => old.Contains(t.Id)));
        world.RunUntil(_ => false, 20);
        var duringBake = world.Live.Count(t => old.Contains(t.Id));
        var done = world.RunUntil(w => w.Latest.Status == DeploymentStatus.Completed, 60);

        Assert.Equal(100, atSwitch.Traffic![2]);
        Assert.Single(atSwitch.Traffic);
        Assert.Equal(3, atSwitch.OldRunning);
        Assert.Equal(3, duringBake);
        Assert.True(done);
        Assert.DoesNotContain(world.Live, t => old.Contains(t.Id));
        Assert.Null(world.Service.Traffic);
    }

    [Fact]
    public void BlueGreen_RollbackDuringTheBake_MovesTrafficBackAtOnceAndKeepsTheOldSet()
    {
        var world = BlueGreen(2);
        var old = world.Live.Select(t => t.Id).ToList();
        world.Deploy();
        world.RunUntil(w => w.Latest.SwitchedAt is not null, 60);

        world.Fleet.State = world.Fleet.State.Rollback("shop", null, world.Fleet.Now, world.Fleet.Events, out var error);
        var traffic = world.Service.Traffic;
        world.RunUntil(w => w.Latest.Status == DeploymentStatus.Completed, 60);

        Assert.Null(error);
        Assert.Equal(100, traffic![1]);
        Assert.Equal(DeploymentStatus.RolledBack, world.Service.Deployments.Single(d => d.Id == 2).Status);
        Assert.Equal(old, world.Live.Select(t => t.Id).ToList());
    }

    [Fact]
    public void BlueGreen_NewSetCrashing_NeverTakesTraffic_AndRollsBack()
    {
        var world = BlueGreen(3);
        world.Behave(2, DeploymentWorld.Behaviour.CrashAtStart);

        world.Deploy();
        world.RunUntil(w => w.Service.Deployments.Single(d => d.Id == 2).Status != DeploymentStatus.InProgress, 300);

        Assert.Equal(DeploymentStatus.RolledBack, world.Service.Deployments.Single(d => d.Id == 2).Status);
        Assert.Null(world.Service.Deployments.Single(d => d.Id == 2).SwitchedAt);
        Assert.Equal(3, world.Live.Count(t => t.Revision == 1 && t.IsInService));
    }
}
