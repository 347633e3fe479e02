using System.Net;
using Flotilla.IntegrationTests.Infrastructure;

namespace Flotilla.IntegrationTests;

/// <summary>What the load balancer decides about targets on its own: ejection, panic, draining, slow start, stickiness.</summary>
public sealed class TargetHealthTests
{
    private static CancellationToken Cancel => TestContext.Current.CancellationToken;

    [Fact(Timeout = 180_000)]
    public async Task Ejection_TaskFailingRealRequests_IsTakenOutThenComesBack()
    {
        // A slow readiness check, so that the ejection is ended by its own clock and not by the next passing check.
        await using var flotilla = await FlotillaInstance.StartAsync(Specs.Fleet(
            Specs.Web("shop"),
            Specs.Shop("shop", 3, extra: ["outlierDetection: { consecutive5xx: 3, baseEjection: 4s }"]).Replace("health: { path: /health/deep, interval: 1s", "health: { path: /health/deep, interval: 20s", StringComparison.Ordinal)
                .Replace("healthyThreshold: 2", "healthyThreshold: 1", StringComparison.Ordinal)));
        var tasks = await flotilla.WaitForHealthyAsync("shop", 3, TimeSpan.FromSeconds(90));
        var faulty = tasks[0];
        await flotilla.DrillAsync(faulty, "faulty");

        await Eventually.Until(
            async () => (await flotilla.ServedByAsync(3), await flotilla.EventsAsync()),
            x => x.Item2.Any(e => e.Reason == "TargetEjected"),
            TimeSpan.FromSeconds(30),
            $"{faulty.Id} ejected after 3 failed requests in a row");
        var targets = await flotilla.TargetsAsync("shop");
        var whileEjected = await flotilla.ServedByAsync(12);

        var ejected = targets.Targets.Single(t => t.Task == faulty.Id);
        Assert.False(ejected.Eligible);
        Assert.True(ejected.EjectedForSeconds > 0, $"ejected for {ejected.EjectedForSeconds}s");
        Assert.DoesNotContain(faulty.Id, whileEjected);

        await flotilla.DrillAsync(faulty, "recover");
        await Eventually.Until(
            flotilla.EventsAsync,
            e => e.Any(x => x.Reason == "TargetReturned" && x.Task == faulty.Id),
            TimeSpan.FromSeconds(30),
            $"{faulty.Id} back after its ejection time");
        Assert.Contains(faulty.Id, await flotilla.ServedByAsync(9));
        var metrics = await flotilla.Http.GetStringAsync(flotilla.Admin.Url + "/metrics", Cancel);
        Assert.Matches(@"flotilla_ejections_total\{[^}]*service=""shop""\} 1", metrics);
    }

    [Fact(Timeout = 180_000)]
    public async Task Panic_TooFewHealthyTasks_RoutesToAllOfThem_UntilEnoughRecover()
    {
        await using var flotilla = await FlotillaInstance.StartAsync(Specs.Fleet(Specs.Web("shop"), Specs.Shop("shop", 3, gracePeriod: "2s")));
        var tasks = await flotilla.WaitForHealthyAsync("shop", 3);
        await flotilla.DrillAsync(tasks[0], "sick");
        await flotilla.DrillAsync(tasks[1], "sick");

        await Eventually.Until(
            flotilla.EventsAsync,
            e => e.Any(x => x.Reason == "PanicMode"),
            TimeSpan.FromSeconds(30),
            "panic mode with 1 of 3 tasks healthy");
        var inPanic = await flotilla.ServedByAsync(30);
        Assert.Equal(3, inPanic.Distinct().Count());
        Assert.Matches(@"flotilla_panic\{[^}]*service=""shop""\} 1", await flotilla.Http.GetStringAsync(flotilla.Admin.Url + "/metrics", Cancel));

        await flotilla.DrillAsync(tasks[0], "recover");
        await Eventually.Until(
            flotilla.EventsAsync,
            e => e.Any(x => x.Reason == "PanicModeEnded"),
            TimeSpan.FromSeconds(30),
            "panic mode over once 2 of 3 tasks are healthy");
        var after = await flotilla.ServedByAsync(20);
        Assert.DoesNotContain(tasks[1].Id, after);
        Assert.Contains(await flotilla.EventsAsync(), e => e.Message == "service shop is in panic mode: 1 of 3 targets healthy, below its 50% threshold; routing to all 3");
    }

    [Fact(Timeout = 180_000)]
    public async Task Draining_ScaleIn_LetsALongRequestFinishWhileNewRequestsGoElsewhere()
    {
        await using var flotilla = await FlotillaInstance.StartAsync(Specs.Fleet(Specs.Web("shop"), Specs.Shop("shop", 2, loadBalancing: "least_requests")));
        await flotilla.WaitForHealthyAsync("shop", 2);

        // least_requests puts one long request on each task, so whichever scale-in picks has one in flight.
        var first = flotilla.Http.GetAsync(flotilla.Listener() + "/work?ms=3000", Cancel);
        await Eventually.Until(async () => (await flotilla.TargetsAsync("shop")).Targets.Sum(t => t.InFlight), n => n == 1, TimeSpan.FromSeconds(10), "the first long request in flight");
        var second = flotilla.Http.GetAsync(flotilla.Listener() + "/work?ms=3000", Cancel);
        await Eventually.Until(async () => (await flotilla.TargetsAsync("shop")).Targets.Count(t => t.InFlight == 1), n => n == 2, TimeSpan.FromSeconds(10), "one long request in flight on each task");
        var (code, output) = await flotilla.CliAsync("scale", "shop", "1");
        Assert.True(code == 0, output);
        var leaving = await Eventually.Until(() => flotilla.TasksAsync("shop"), t => t.Any(x => x.State == "draining"), TimeSpan.FromSeconds(10), "a task draining");
        var drainingId = leaving.Single(t => t.State == "draining").Id;
        var meanwhile = await flotilla.ServedByAsync(10);

        using var firstResponse = await first;
        using var secondResponse = await second;
        Assert.Equal(HttpStatusCode.OK, firstResponse.StatusCode);
        Assert.Equal(HttpStatusCode.OK, secondResponse.StatusCode);
        Assert.DoesNotContain(drainingId, meanwhile);
        var stopped = await Eventually.Until(() => flotilla.TasksAsync("shop", "stopped"), t => t.Count == 1, TimeSpan.FromSeconds(30), $"{drainingId} stopped once drained");
        Assert.Equal(("stopped by scale-in", 0), (stopped[0].StoppedReason, stopped[0].ExitCode));
        // "drained in", not "deregistration delay … ended with N requests still in flight": it ended when the request did.
        Assert.Contains(await flotilla.EventsAsync(), e => e.Message.StartsWith($"task {drainingId} drained in ", StringComparison.Ordinal));
    }

    [Fact(Timeout = 180_000)]
    public async Task SlowStart_NewTask_RampsUpToItsFullShare()
    {
        await using var flotilla = await FlotillaInstance.StartAsync(Specs.Fleet(Specs.Web("shop"), Specs.Shop("shop", 1, extra: ["slowStart: 8s"])));
        await flotilla.WaitForHealthyAsync("shop", 1);
        await flotilla.CliAsync("scale", "shop", "2");
        await flotilla.WaitForHealthyAsync("shop", 2);

        var early = await flotilla.ServedByAsync(40);
        await Eventually.Until(
            async () => (await flotilla.TargetsAsync("shop")).Targets.Min(t => t.EffectiveWeight),
            weight => weight >= 1,
            TimeSpan.FromSeconds(30),
            "the new task at full weight");
        var late = await flotilla.ServedByAsync(40);

        Assert.InRange(early.Count(t => t == "shop-2"), 1, 16);
        Assert.InRange(late.Count(t => t == "shop-2"), 17, 23);
    }

    [Theory(Timeout = 180_000)]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Stickiness_ClientStaysOnItsTask_AndMovesWithANewCookieWhenTheTaskGoes(bool fastPath)
    {
        var web = fastPath ? Specs.Web("shop") : Specs.Web("shop").Replace("    rules:\n", "    fastPath: false\n    rules:\n", StringComparison.Ordinal);
        await using var flotilla = await FlotillaInstance.StartAsync(Specs.Fleet(web, Specs.Shop("shop", 3, extra: ["stickiness: { cookie: PIN, ttl: 10m }"])));
        await flotilla.WaitForHealthyAsync("shop", 3);
        var cookies = new CookieContainer();
        using var client = new HttpClient(new HttpClientHandler { CookieContainer = cookies });

        var pinned = await flotilla.ServedByAsync(10, client: client);
        var pin = cookies.GetCookies(new Uri(flotilla.Listener()))["PIN"];
        Assert.Single(pinned.Distinct());
        Assert.NotNull(pin);
        Assert.True(pin.HttpOnly);

        await flotilla.CliAsync("stop", pinned[0]);
        await Eventually.Until(() => flotilla.TasksAsync("shop", "live"), t => t.All(x => x.Id != pinned[0] || x.State != "running"), TimeSpan.FromSeconds(30), $"{pinned[0]} gone");
        var moved = await flotilla.ServedByAsync(5, client: client);

        Assert.DoesNotContain(pinned[0], moved);
        Assert.Single(moved.Distinct());
        Assert.NotEqual(pin.Value, cookies.GetCookies(new Uri(flotilla.Listener()))["PIN"]?.Value);
        if (fastPath)
        {
            // Sticky services are served on the event loops: no connection went to the full HTTP stack.
            Assert.DoesNotContain("flotilla_fastpath_handovers_total{", await flotilla.Http.GetStringAsync(flotilla.Admin.Url + "/metrics", Cancel), StringComparison.Ordinal);
        }
    }
}
