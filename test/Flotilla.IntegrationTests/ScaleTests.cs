using Flotilla.IntegrationTests.Infrastructure;

namespace Flotilla.IntegrationTests;

public sealed class ScaleTests
{
    [Fact(Timeout = 240_000)]
    public async Task Scale_ThreeToFiveToTwo_ConvergesAndScalesInTheNewestFirst()
    {
        await using var flotilla = await FlotillaInstance.StartAsync(Specs.Fleet(Specs.Web("shop"), Specs.Shop("shop", 3)));
        await flotilla.WaitForHealthyAsync("shop", 3);

        var (up, upOutput) = await flotilla.CliAsync("scale", "shop", "5");
        Assert.True(up == 0, upOutput);
        Assert.Contains("service shop: desired 5", upOutput);
        await flotilla.WaitForHealthyAsync("shop", 5);

        var (down, downOutput) = await flotilla.CliAsync("scale", "shop", "2");
        Assert.True(down == 0, downOutput);
        var remaining = await flotilla.WaitForHealthyAsync("shop", 2);

        Assert.Equal(["shop-1", "shop-2"], remaining.Select(t => t.Id).Order());
        var stopped = await Eventually.Until(
            () => flotilla.TasksAsync("shop", "stopped"),
            s => s.Count == 3,
            TimeSpan.FromSeconds(30),
            "the three scaled-in tasks stopped");
        Assert.All(stopped, t => Assert.Equal("stopped by scale-in", t.StoppedReason));
        var events = await flotilla.EventsAsync();
        Assert.Contains(events, e => e.Message == "service shop desired count changed 3 → 5");
        Assert.Contains(events, e => e.Message == "service shop desired count changed 5 → 2");

        var (rejected, rejectedOutput) = await flotilla.CliAsync("scale", "shop", "1000");
        Assert.Equal(1, rejected);
        Assert.Contains("desired must be between 0 and 100, got 1000", rejectedOutput);
    }

    [Fact(Timeout = 180_000)]
    public async Task Stop_ATask_RecordsStoppedByUserAndTheSchedulerReplacesIt()
    {
        await using var flotilla = await FlotillaInstance.StartAsync(Specs.Fleet(Specs.Web("shop"), Specs.Shop("shop", 2)));
        await flotilla.WaitForHealthyAsync("shop", 2);

        var (code, output) = await flotilla.CliAsync("stop", "shop-1");

        Assert.True(code == 0, output);
        var after = await flotilla.WaitForHealthyAsync("shop", 2);
        Assert.DoesNotContain(after, t => t.Id == "shop-1");
        var stopped = (await flotilla.TasksAsync("shop", "stopped")).Single(t => t.Id == "shop-1");
        Assert.Equal("stopped by user", stopped.StoppedReason);
        Assert.Equal(0, stopped.ExitCode);

        var (again, againOutput) = await flotilla.CliAsync("stop", "shop-1");
        Assert.Equal(1, again);
        Assert.Contains("task shop-1 is already stopped", againOutput);
    }
}
