using Flotilla.Core.Events;
using Flotilla.Core.Fleet;
using Flotilla.Core.Scheduling;

namespace Flotilla.Tests.Scheduling;

public sealed class FleetStateTests
{
    [Fact]
    public void AddTask_TasksOfEachService_AreNumberedFromOne()
    {
        var fleet = new Fleets(Fleets.Service("shop"), Fleets.Service("orders"));

        var ids = new[] { fleet.Start("shop"), fleet.Start("orders"), fleet.Start("shop") };

        Assert.Equal(["shop-1", "orders-1", "shop-2"], ids);
        Assert.True(fleet.Task("shop-2").Sequence > fleet.Task("orders-1").Sequence);
    }

    [Fact]
    public void TaskStarted_PendingTask_IsRunningWithItsPid()
    {
        var fleet = new Fleets(Fleets.Service());
        var id = fleet.Start();

        var task = fleet.Task(id);
        Assert.Equal(TaskState.Running, task.State);
        Assert.NotNull(task.Pid);
        Assert.Equal(fleet.Now, task.StartedAt);
        Assert.Contains(fleet.Events, e => e.Reason == EventReasons.TaskStarted && e.TaskId == id);
    }

    [Theory]
    [InlineData(1, "exited with code 1")]
    [InlineData(0, "exited with code 0")]
    [InlineData(137, "killed by signal 9")]
    [InlineData(143, "killed by signal 15")]
    [InlineData(127, "exited with code 127 (command not found)")]
    public void TaskExited_Unplanned_RecordsWhyFromTheExitCode(int code, string reason)
    {
        var fleet = new Fleets(Fleets.Service());
        var id = fleet.Start();
        fleet.Advance(TimeSpan.FromSeconds(30));

        fleet.Exit(id, code);

        var task = fleet.Task(id);
        Assert.Equal(TaskState.Stopped, task.State);
        Assert.Equal(reason, task.StoppedReason);
        Assert.Equal(code, task.ExitCode);
        Assert.Equal(fleet.Now, task.StoppedAt);
        Assert.Contains(fleet.Events, e => e.Reason == EventReasons.TaskExited && e.Message == $"task {id} {reason} after 30s" && e.IsWarning);
    }

    [Fact]
    public void TaskExited_AfterAStopRequest_KeepsTheRequestedReason()
    {
        var fleet = new Fleets(Fleets.Service());
        var id = fleet.StartHealthy();
        fleet.State = fleet.State.StopRequested(id, StopReasons.ScaleIn, fleet.Now, fleet.Events);

        fleet.Exit(id, 143);

        Assert.Equal(StopReasons.ScaleIn, fleet.Task(id).StoppedReason);
        Assert.Equal(LaunchBackoff.None, fleet.State.Services["shop"].Backoff);
        Assert.Contains(fleet.Events, e => e.Message == $"task {id} stopped (stopped by scale-in; exit code 143)");
    }

    [Fact]
    public void TaskExited_WithinTenSecondsOfStart_BacksTheServiceOffWithAnEvent()
    {
        var fleet = new Fleets(Fleets.Service());
        var id = fleet.Start();
        fleet.Advance(TimeSpan.FromSeconds(9));

        fleet.Exit(id, 1);

        var backoff = fleet.State.Services["shop"].Backoff;
        Assert.Equal(1, backoff.ConsecutiveFailures);
        Assert.Equal(fleet.Now + TimeSpan.FromSeconds(1), backoff.NotBefore);
        Assert.Contains(fleet.Events, e => e.Reason == EventReasons.BackingOff && e.Message == "service shop is backing off: 1 failed start in a row; next start in 1s");
    }

    [Fact]
    public void TaskExited_AfterTenSeconds_DoesNotBackOff()
    {
        var fleet = new Fleets(Fleets.Service());
        var id = fleet.Start();
        fleet.Advance(TimeSpan.FromSeconds(10));

        fleet.Exit(id, 1);

        Assert.Equal(LaunchBackoff.None, fleet.State.Services["shop"].Backoff);
    }

    [Fact]
    public void TaskFailedToStart_IsStoppedWithTheErrorAndBacksOff()
    {
        var fleet = new Fleets(Fleets.Service());
        fleet.State = fleet.State.AddTask("shop", 1, 4000, fleet.Now, out var task);

        fleet.State = fleet.State.TaskFailedToStart(task.Id, "No such file or directory", fleet.Now, fleet.Events);

        Assert.Equal("failed to start: No such file or directory", fleet.Task(task.Id).StoppedReason);
        Assert.Equal(1, fleet.State.Services["shop"].Backoff.ConsecutiveFailures);
    }

    [Fact]
    public void LivenessChecked_UnhealthyBeforeEverHealthy_CountsAsAFailedStart()
    {
        var fleet = new Fleets(Fleets.Service());
        var id = fleet.Start();
        fleet.Advance(TimeSpan.FromSeconds(6));

        fleet.CheckLiveness(id, false);
        fleet.CheckLiveness(id, false);
        fleet.CheckLiveness(id, false);

        Assert.Contains(fleet.Events, e => e.Reason == EventReasons.TaskUnhealthy && e.Message == $"task {id} failed 3 liveness checks in a row (last: connection refused)");
        Assert.Equal(1, fleet.State.Services["shop"].Backoff.ConsecutiveFailures);
    }

    [Fact]
    public void LivenessChecked_UnhealthyAfterBeingHealthy_DoesNotBackOff()
    {
        var fleet = new Fleets(Fleets.Service());
        var id = fleet.StartHealthy();
        fleet.Advance(TimeSpan.FromSeconds(60));

        fleet.CheckLiveness(id, false);
        fleet.CheckLiveness(id, false);
        fleet.CheckLiveness(id, false);

        Assert.Equal(Core.Health.HealthState.Unhealthy, fleet.Task(id).Liveness!.State);
        Assert.Equal(LaunchBackoff.None, fleet.State.Services["shop"].Backoff);
    }

    [Fact]
    public void LivenessChecked_ServiceWithoutLiveness_IsIgnored()
    {
        var fleet = new Fleets(Fleets.Service(liveness: false));
        var id = fleet.StartHealthy();
        var before = fleet.Task(id);

        fleet.CheckLiveness(id, false);

        Assert.Null(before.Liveness);
        Assert.Same(before, fleet.Task(id));
    }

    [Fact]
    public void HealthChecked_ReadinessLostAndRegained_LeavesAndRejoinsTheLoadBalancerWithEvents()
    {
        var fleet = new Fleets(Fleets.Service());
        var id = fleet.StartHealthy();
        fleet.Advance(TimeSpan.FromSeconds(60));

        fleet.Check(id, false);
        fleet.Check(id, false);
        fleet.Check(id, false);
        var out_ = fleet.Task(id).IsInService;
        fleet.Check(id, true);
        fleet.Check(id, true);

        Assert.False(out_);
        Assert.True(fleet.Task(id).IsInService);
        Assert.Equal(TaskState.Running, fleet.Task(id).State);
        Assert.Equal(2, fleet.Events.Count(e => e.Reason == EventReasons.TaskHealthy));
        Assert.Single(fleet.Events, e => e.Reason == EventReasons.TaskNotReady);
    }

    [Fact]
    public void StopRequested_RunningTask_DrainsThenStopsWhenDrained()
    {
        var fleet = new Fleets(Fleets.Service());
        var id = fleet.StartHealthy();

        fleet.State = fleet.State.StopRequested(id, StopReasons.ScaleIn, fleet.Now, fleet.Events);
        var draining = fleet.Task(id);
        fleet.State = fleet.State.DrainCompleted(id, 0, TimeSpan.FromMilliseconds(1234), fleet.Now, fleet.Events);

        Assert.Equal(TaskState.Draining, draining.State);
        Assert.False(draining.IsLive);
        Assert.False(draining.IsInService);
        Assert.Equal(TaskState.Stopping, fleet.Task(id).State);
        Assert.Contains(fleet.Events, e => e.Message == $"stopping task {id}: stopped by scale-in; draining");
        Assert.Contains(fleet.Events, e => e.Message == $"task {id} drained in 1.234s");
    }

    [Fact]
    public void DrainCompleted_DelayOverWithRequestsLeft_SaysSo()
    {
        var fleet = new Fleets(Fleets.Service());
        var id = fleet.StartHealthy();
        fleet.State = fleet.State.StopRequested(id, StopReasons.ScaleIn, fleet.Now, fleet.Events);

        fleet.State = fleet.State.DrainCompleted(id, 2, TimeSpan.FromSeconds(30), fleet.Now, fleet.Events);

        Assert.Contains(fleet.Events, e => e.Message == $"task {id} deregistration delay of 30s ended with 2 requests still in flight");
    }

    [Fact]
    public void StopRequested_PendingTask_StopsWithoutDraining()
    {
        var fleet = new Fleets(Fleets.Service());
        fleet.State = fleet.State.AddTask("shop", 1, 4000, fleet.Now, out var task);

        fleet.State = fleet.State.StopRequested(task.Id, StopReasons.ScaleIn, fleet.Now, fleet.Events);

        Assert.Equal(TaskState.Stopping, fleet.Task(task.Id).State);
    }

    [Theory]
    [InlineData(0, "weight must be between 1 and 256, got 0")]
    [InlineData(257, "weight must be between 1 and 256, got 257")]
    public void SetWeight_OutOfRange_Explains(int weight, string expected)
    {
        var fleet = new Fleets(Fleets.Service());
        var id = fleet.StartHealthy();

        fleet.State.SetWeight(id, weight, fleet.Now, fleet.Events, out var error);

        Assert.Equal(expected, error);
    }

    [Fact]
    public void SetWeight_LiveTask_ChangesItWithAnEvent()
    {
        var fleet = new Fleets(Fleets.Service());
        var id = fleet.StartHealthy();

        fleet.State = fleet.State.SetWeight(id, 5, fleet.Now, fleet.Events, out var error);

        Assert.Null(error);
        Assert.Equal(5, fleet.Task(id).Weight);
        Assert.Contains(fleet.Events, e => e.Reason == EventReasons.TaskWeight && e.Message == $"task {id} weight changed 1 → 5");
    }

    [Fact]
    public void HealthChecked_TaskNotRunning_IsIgnored()
    {
        var fleet = new Fleets(Fleets.Service());
        var id = fleet.StartHealthy();
        fleet.State = fleet.State.StopRequested(id, StopReasons.User, fleet.Now, fleet.Events);
        var before = fleet.Task(id);

        fleet.Check(id, false);

        Assert.Same(before, fleet.Task(id));
    }

    [Fact]
    public void StopByUser_LiveTask_StopsItWithTheUserReason()
    {
        var fleet = new Fleets(Fleets.Service());
        var id = fleet.StartHealthy();

        fleet.State = fleet.State.StopByUser(id, fleet.Now, fleet.Events, out var error);

        Assert.Null(error);
        Assert.Equal(TaskState.Draining, fleet.Task(id).State);
        Assert.Equal(StopReasons.User, fleet.Task(id).StoppedReason);
    }

    [Fact]
    public void StopByUser_StoppedOrUnknownTask_ExplainsAndChangesNothing()
    {
        var fleet = new Fleets(Fleets.Service());
        var id = fleet.Start();
        fleet.Advance(TimeSpan.FromSeconds(30));
        fleet.Exit(id, 0);

        var afterStopped = fleet.State.StopByUser(id, fleet.Now, fleet.Events, out var stoppedError);
        var afterUnknown = fleet.State.StopByUser("shop-99", fleet.Now, fleet.Events, out var unknownError);

        Assert.Same(fleet.State, afterStopped);
        Assert.Same(fleet.State, afterUnknown);
        Assert.Equal($"task {id} is already stopped", stoppedError);
        Assert.Equal("unknown task 'shop-99'", unknownError);
    }

    [Theory]
    [InlineData(-1)]
    [InlineData(101)]
    public void SetDesired_OutOfRange_ExplainsAndChangesNothing(int desired)
    {
        var fleet = new Fleets(Fleets.Service(desired: 3));

        var state = fleet.State.SetDesired("shop", desired, fleet.Now, fleet.Events, out var error);

        Assert.Same(fleet.State, state);
        Assert.Equal($"desired must be between 0 and 100, got {desired}", error);
        Assert.Empty(fleet.Events);
    }

    [Fact]
    public void SetDesired_UnknownService_Explains()
    {
        var fleet = new Fleets(Fleets.Service());

        fleet.State.SetDesired("nope", 1, fleet.Now, fleet.Events, out var error);

        Assert.Equal("unknown service 'nope'", error);
    }

    [Fact]
    public void SetDesired_NewCount_RecordsItWithAnEvent()
    {
        var fleet = new Fleets(Fleets.Service(desired: 3));

        fleet.State = fleet.State.SetDesired("shop", 5, fleet.Now, fleet.Events, out var error);

        Assert.Null(error);
        Assert.Equal(5, fleet.State.Services["shop"].Desired);
        Assert.Contains(fleet.Events, e => e.Reason == EventReasons.Scaled && e.Message == "service shop desired count changed 3 → 5");
    }

    [Fact]
    public void TaskExited_ManyStoppedTasks_KeepsOnlyTheNewestOnes()
    {
        var fleet = new Fleets(Fleets.Service());
        var ids = new List<string>();
        for (var i = 0; i < FleetState.StoppedTasksKept + 5; i++)
        {
            var id = fleet.Start();
            fleet.Advance(TimeSpan.FromSeconds(20));
            fleet.Exit(id, 0);
            ids.Add(id);
        }

        var kept = fleet.Tasks().Select(t => t.Id).ToList();
        Assert.Equal(ids.Skip(5), kept);
    }

    [Theory]
    [InlineData(1, 1)]
    [InlineData(2, 2)]
    [InlineData(3, 4)]
    [InlineData(6, 32)]
    [InlineData(7, 60)]
    [InlineData(50, 60)]
    public void LaunchBackoff_DelayAfterFailures_DoublesFromOneSecondToSixty(int failures, int seconds) =>
        Assert.Equal(TimeSpan.FromSeconds(seconds), LaunchBackoff.DelayAfter(failures));
}
