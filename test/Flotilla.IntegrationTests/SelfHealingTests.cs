using System.Diagnostics;
using Flotilla.IntegrationTests.Infrastructure;
using Flotilla.Runtime;

namespace Flotilla.IntegrationTests;

public sealed class SelfHealingTests
{
    [Fact(Timeout = 180_000)]
    public async Task KilledTask_IsReplacedByAHealthyOne_AndItsStoppedReasonIsRecorded()
    {
        await using var flotilla = await FlotillaInstance.StartAsync(Specs.Fleet(Specs.Web("shop"), Specs.Shop("shop", 3)));
        var before = await flotilla.WaitForHealthyAsync("shop", 3);
        var victim = before.Single(t => t.Id == "shop-2");

        var watch = Stopwatch.StartNew();
        PosixSignals.Signal(victim.Pid!.Value, PosixSignals.SigKill);

        // Bound from the issue: interval × unhealthyThreshold + the replacement's start time, with room for a busy CI machine.
        var after = await Eventually.Until(
            () => flotilla.TasksAsync("shop", "live"),
            t => t.Count == 3 && t.All(x => x.Health == "healthy") && t.All(x => x.Id != victim.Id),
            TimeSpan.FromSeconds(1 * 3) + TimeSpan.FromSeconds(30),
            $"3 healthy shop tasks, {victim.Id} replaced");
        TestContext.Current.TestOutputHelper?.WriteLine($"SIGKILL of a task to a healthy replacement: {watch.Elapsed.TotalSeconds:0.0}s");

        var stopped = (await flotilla.TasksAsync("shop", "stopped")).Single(t => t.Id == victim.Id);
        Assert.Equal("killed by signal 9", stopped.StoppedReason);
        Assert.Equal(137, stopped.ExitCode);
        Assert.NotNull(stopped.StoppedAt);
        Assert.Contains(await flotilla.EventsAsync(), e => e.Message.StartsWith("task shop-2 killed by signal 9 after ", StringComparison.Ordinal) && e.Warning);
        Assert.False(ProcessTable.IsAlive(victim.Pid.Value));
    }

    [Fact(Timeout = 180_000)]
    public async Task TaskFailingReadiness_LeavesTheLoadBalancerButKeepsRunning()
    {
        await using var flotilla = await FlotillaInstance.StartAsync(Specs.Fleet(Specs.Web("shop"), Specs.Shop("shop", 3, gracePeriod: "2s")));
        var tasks = await flotilla.WaitForHealthyAsync("shop", 3);
        var sick = tasks[0];

        await flotilla.DrillAsync(sick, "sick");

        await Eventually.Until(
            () => flotilla.TasksAsync("shop", "live"),
            t => t.Single(x => x.Id == sick.Id).Health == "unhealthy",
            TimeSpan.FromSeconds(30),
            $"{sick.Id} not ready after failing its readiness checks");
        var served = await flotilla.ServedByAsync(20);

        Assert.DoesNotContain(sick.Id, served);
        Assert.Equal(2, served.Distinct().Count());
        var still = (await flotilla.TasksAsync("shop", "live")).Single(t => t.Id == sick.Id);
        Assert.Equal("running", still.State);
        Assert.Equal(sick.Pid, still.Pid);
        Assert.Contains(await flotilla.EventsAsync(), e => e.Message.StartsWith($"task {sick.Id} failed 3 health checks in a row (last: HTTP 503)", StringComparison.Ordinal));
    }

    [Fact(Timeout = 180_000)]
    public async Task TaskFailingLiveness_IsReplaced()
    {
        await using var flotilla = await FlotillaInstance.StartAsync(Specs.Fleet(Specs.Web("shop"), Specs.Shop("shop", 2, gracePeriod: "2s")));
        var tasks = await flotilla.WaitForHealthyAsync("shop", 2);
        var wedged = tasks[0];

        await flotilla.DrillAsync(wedged, "wedge");

        var stopped = await Eventually.Until(
            () => flotilla.TasksAsync("shop", "stopped"),
            s => s.Any(t => t.Id == wedged.Id),
            TimeSpan.FromSeconds(30),
            $"{wedged.Id} stopped after failing its liveness checks");
        Assert.Equal("failed health checks", stopped.Single(t => t.Id == wedged.Id).StoppedReason);
        var replaced = await flotilla.WaitForHealthyAsync("shop", 2);
        Assert.DoesNotContain(replaced, t => t.Id == wedged.Id);
        Assert.Contains(await flotilla.EventsAsync(), e => e.Message == $"task {wedged.Id} failed 3 liveness checks in a row (last: HTTP 503)");
    }

    [Fact(Timeout = 180_000)]
    public async Task CrashingService_BacksOffDoublingEachTime_AndItsOutputIsInItsLog()
    {
        await using var flotilla = await FlotillaInstance.StartAsync(Specs.Fleet("", """
              crashy:
                command: ["sh", "-c", "echo out-${TASK_ID}; echo err-${TASK_ID} >&2; exit 3"]
                desired: 1
            """));

        var events = await Eventually.Until(
            flotilla.EventsAsync,
            e => e.Any(x => x.Message.Contains("3 failed starts in a row", StringComparison.Ordinal)),
            TimeSpan.FromSeconds(60),
            "three failed launches");

        var backoffs = events.Where(e => e.Reason == "BackingOff").Select(e => e.Message).Take(3);
        Assert.Equal(
            [
                "service crashy is backing off: 1 failed start in a row; next start in 1s",
                "service crashy is backing off: 2 failed starts in a row; next start in 2s",
                "service crashy is backing off: 3 failed starts in a row; next start in 4s",
            ],
            backoffs);
        var first = (await flotilla.TasksAsync("crashy", "stopped")).First(t => t.Id == "crashy-1");
        Assert.Equal("exited with code 3", first.StoppedReason);
        var log = await File.ReadAllTextAsync(Path.Combine(flotilla.StateDirectory, "logs", "crashy-1.log"), TestContext.Current.CancellationToken);
        Assert.Contains("out-crashy-1", log);
        Assert.Contains("err-crashy-1", log);
        var services = await flotilla.CliAsync("services");
        Assert.Matches(@"crashy\s+1\s+1\s+\d\s+0\s+backing off", services.Output);
    }
}
