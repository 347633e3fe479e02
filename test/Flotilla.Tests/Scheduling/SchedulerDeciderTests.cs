using Flotilla.Core.Events;
using Flotilla.Core.Fleet;
using Flotilla.Core.Health;
using Flotilla.Core.Scheduling;

namespace Flotilla.Tests.Scheduling;

public sealed class SchedulerDeciderTests
{
    [Fact]
    public void Decide_NoTasks_StartsTheDesiredCount()
    {
        var fleet = new Fleets(Fleets.Service(desired: 3));

        var (decision, started) = fleet.Reconcile();

        Assert.Equal(3, decision.Actions.OfType<StartTask>().Count());
        Assert.Equal(["shop-1", "shop-2", "shop-3"], started.Select(t => t.Id));
        Assert.All(fleet.Tasks(), t => Assert.Equal(TaskState.Pending, t.State));
        Assert.Equal(3, fleet.Tasks().Select(t => t.Port).Distinct().Count());
    }

    [Fact]
    public void Decide_DesiredTasksPendingOrStarting_DoesNothingMore()
    {
        var fleet = new Fleets(Fleets.Service(desired: 2));
        fleet.Reconcile();
        fleet.Started("shop-1");

        var (decision, _) = fleet.Reconcile();

        Assert.Empty(decision.Actions);
        Assert.False(decision.Steady);
    }

    [Fact]
    public void Decide_TaskFailingLiveness_IsStoppedForFailedHealthChecksAndReplaced()
    {
        var fleet = new Fleets(Fleets.Service(desired: 2));
        var good = fleet.StartHealthy();
        var bad = fleet.StartHealthy();
        fleet.Advance(TimeSpan.FromSeconds(10));
        fleet.CheckLiveness(bad, false);
        fleet.CheckLiveness(bad, false);
        fleet.CheckLiveness(bad, false);

        var (decision, started) = fleet.Reconcile();

        Assert.Equal([new StopTask("shop", bad, StopReasons.FailedHealthChecks)], decision.Actions.OfType<StopTask>());
        Assert.Single(started);
        Assert.Equal(TaskState.Draining, fleet.Task(bad).State);
        Assert.Equal(StopReasons.FailedHealthChecks, fleet.Task(bad).StoppedReason);
        Assert.Equal(TaskState.Running, fleet.Task(good).State);
    }

    [Fact]
    public void Decide_TaskFailingReadinessOnly_IsKeptRunningOutOfTheLoadBalancer()
    {
        var fleet = new Fleets(Fleets.Service(desired: 1));
        var task = fleet.StartHealthy();
        fleet.Advance(TimeSpan.FromSeconds(10));
        fleet.Check(task, false);
        fleet.Check(task, false);
        fleet.Check(task, false);

        var (decision, started) = fleet.Reconcile();

        Assert.Empty(decision.Actions.OfType<StopTask>());
        Assert.Empty(started);
        Assert.Equal(TaskState.Running, fleet.Task(task).State);
        Assert.False(fleet.Task(task).IsInService);
        Assert.Contains(fleet.Events, e => e.Reason == EventReasons.TaskNotReady && e.Message.StartsWith($"task {task} failed 3 health checks in a row (last: HTTP 503)", StringComparison.Ordinal));
    }

    [Fact]
    public void Decide_StoppingTask_DoesNotCountTowardDesired()
    {
        var fleet = new Fleets(Fleets.Service(desired: 1));
        var task = fleet.StartHealthy();
        fleet.State = fleet.State.StopRequested(task, StopReasons.User, fleet.Now, fleet.Events);

        var (_, started) = fleet.Reconcile();

        Assert.Single(started);
    }

    [Fact]
    public void Decide_BackoffActive_StartsNothingAndWakesWhenItEnds()
    {
        var fleet = new Fleets(Fleets.Service(desired: 1));
        var task = fleet.Start();
        fleet.Advance(TimeSpan.FromMilliseconds(300));
        fleet.Exit(task, 1);

        var (during, started) = fleet.Reconcile();

        Assert.Empty(started);
        Assert.Equal(fleet.Now + TimeSpan.FromSeconds(1), during.WakeAt);

        fleet.Advance(TimeSpan.FromSeconds(1));
        var (after, startedAfter) = fleet.Reconcile();

        Assert.Single(startedAfter);
        Assert.Null(after.WakeAt);
    }

    [Fact]
    public void Decide_TooManyTasks_StopsTheNotYetHealthyFirstThenTheNewest()
    {
        var fleet = new Fleets(Fleets.Service(desired: 5));
        var oldest = fleet.StartHealthy();
        var older = fleet.StartHealthy();
        var newerHealthy = fleet.StartHealthy();
        var starting = fleet.Start();
        var newestHealthy = fleet.StartHealthy();
        fleet.State = fleet.State.SetDesired("shop", 2, fleet.Now, fleet.Events, out _);

        var (decision, _) = fleet.Reconcile();

        Assert.Equal(
            [starting, newestHealthy, newerHealthy],
            decision.Actions.OfType<StopTask>().Select(s => s.TaskId));
        Assert.All(decision.Actions.OfType<StopTask>(), s => Assert.Equal(StopReasons.ScaleIn, s.Reason));
        Assert.Equal([oldest, older], fleet.Tasks().Where(t => t.IsLive).Select(t => t.Id));
    }

    [Fact]
    public void Decide_AllDesiredTasksHealthy_RaisesSteadyStateOnce()
    {
        var fleet = new Fleets(Fleets.Service(desired: 2));
        fleet.StartHealthy();
        fleet.StartHealthy();

        var (first, _) = fleet.Reconcile();
        var (second, _) = fleet.Reconcile();

        Assert.True(first.Steady);
        var steady = Assert.Single(first.Actions.OfType<RaiseEvent>()).Event;
        Assert.Equal("service shop has reached a steady state", steady.Message);
        Assert.Equal(EventReasons.SteadyState, steady.Reason);
        Assert.True(second.Steady);
        Assert.Empty(second.Actions);
        Assert.True(fleet.State.Services["shop"].Steady);
    }

    [Fact]
    public void Decide_AfterScaleOut_IsNoLongerSteadyUntilTheNewTasksAreHealthy()
    {
        var fleet = new Fleets(Fleets.Service(desired: 1));
        fleet.StartHealthy();
        fleet.Reconcile();
        fleet.State = fleet.State.SetDesired("shop", 2, fleet.Now, fleet.Events, out _);

        var (scaling, started) = fleet.Reconcile();
        fleet.Started(started[0].Id);
        fleet.Check(started[0].Id, true);
        fleet.Check(started[0].Id, true);
        var (settled, _) = fleet.Reconcile();

        Assert.False(scaling.Steady);
        Assert.True(settled.Steady);
        Assert.Equal(2, fleet.Events.Count(e => e.Reason == EventReasons.SteadyState));
    }

    [Fact]
    public void Decide_TaskStillStopping_IsNotSteady()
    {
        var fleet = new Fleets(Fleets.Service(desired: 1));
        fleet.StartHealthy();
        var extra = fleet.StartHealthy();
        fleet.Reconcile();

        var (decision, _) = fleet.Reconcile();

        Assert.Equal(TaskState.Draining, fleet.Task(extra).State);
        Assert.False(decision.Steady);
    }

    [Fact]
    public void Decide_DesiredZeroAndNoTasks_IsSteady()
    {
        var fleet = new Fleets(Fleets.Service(desired: 0));

        var (decision, started) = fleet.Reconcile();

        Assert.Empty(started);
        Assert.True(decision.Steady);
    }

    [Fact]
    public void Decide_CrashLoopingService_LaunchesAreSpacedByTheDoublingBackoff()
    {
        var fleet = new Fleets(Fleets.Service(desired: 1));
        var launches = new List<DateTimeOffset>();
        for (var step = 0; step < 1000; step++)
        {
            foreach (var task in fleet.Reconcile().Started)
            {
                launches.Add(fleet.Now);
                fleet.Started(task.Id);
                fleet.Advance(TimeSpan.FromMilliseconds(200));
                fleet.Exit(task.Id, 1);
            }

            fleet.Advance(TimeSpan.FromMilliseconds(500));
        }

        var gaps = launches.Zip(launches.Skip(1), (a, b) => (int)Math.Round((b - a).TotalSeconds)).Take(9);
        Assert.Equal([1, 2, 4, 8, 16, 32, 60, 60, 60], gaps);
    }

    [Fact]
    public void Decide_TaskHealthyAfterCrashes_LaunchesAgainWithoutDelay()
    {
        var fleet = new Fleets(Fleets.Service(desired: 2));
        var crash = fleet.Start();
        fleet.Exit(crash, 1);
        fleet.Exit(fleet.Start(), 1);
        Assert.Equal(2, fleet.State.Services["shop"].Backoff.ConsecutiveFailures);

        var healthy = fleet.Start();
        fleet.Check(healthy, true);
        fleet.Check(healthy, true);
        var (_, started) = fleet.Reconcile();

        Assert.Equal(LaunchBackoff.None, fleet.State.Services["shop"].Backoff);
        Assert.Single(started);
        Assert.Equal(HealthState.Healthy, fleet.Task(healthy).Health.State);
    }
}
