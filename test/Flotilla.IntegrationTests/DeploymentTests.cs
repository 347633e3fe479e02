using System.Diagnostics;
using Flotilla.IntegrationTests.Infrastructure;

namespace Flotilla.IntegrationTests;

/// <summary>Deployments with real processes, under continuous client load where the issue asks for zero failed requests.</summary>
public sealed class DeploymentTests
{
    private static void Report(string line) => TestContext.Current.TestOutputHelper?.WriteLine(line);

    private static async Task<FlotillaInstance> StartAsync(int desired, params string[] extra)
    {
        // The grace period is also a new task's budget to become healthy during a deployment: a busy 2-core CI machine
        // can take several seconds to start a .NET task, so it gets the sample's 10s.
        var flotilla = await FlotillaInstance.StartAsync(Specs.Fleet(Specs.Web("shop"), Specs.Shop("shop", desired, gracePeriod: "10s", extra: extra)));
        try
        {
            await flotilla.WaitForHealthyAsync("shop", desired);
            await Eventually.Until(() => flotilla.CliAsync("deployments", "shop", "--json"), r => r.Output.Contains("\"completed\"", StringComparison.Ordinal), TimeSpan.FromSeconds(30), "the first deployment completed");
            return flotilla;
        }
        catch
        {
            await flotilla.DisposeAsync();
            throw;
        }
    }

    [Fact(Timeout = 240_000)]
    public async Task Rolling_DeployUnderLoad_FailsNoRequest_AndLeavesOnlyTheNewRevision()
    {
        await using var flotilla = await StartAsync(3);
        var old = (await flotilla.TasksAsync("shop", "live")).Select(t => t.Id).ToList();
        await using var load = new LoadGenerator(flotilla.Listener() + "/work?ms=20");

        var watch = Stopwatch.StartNew();
        var (deployCode, deployOutput) = await flotilla.CliAsync("deploy", "shop", "--env", "VERSION=2");
        var (statusCode, statusOutput) = await flotilla.CliAsync("rollout", "status", "shop");
        Report($"rolling deploy of 3 tasks: {watch.Elapsed.TotalSeconds:0.0}s");
        await load.StopAsync();

        Assert.True(deployCode == 0, deployOutput);
        Assert.True(statusCode == 0, statusOutput);
        Assert.Contains("deployment 2 COMPLETED", statusOutput);
        Report($"requests: {load.Succeeded} succeeded, {load.Failures.Count} failed");
        Assert.True(load.Failures.Count == 0, string.Join("\n", load.Failures));
        Assert.True(load.Succeeded > 50, $"only {load.Succeeded} requests");
        var live = await flotilla.TasksAsync("shop", "live");
        Assert.Equal(3, live.Count);
        Assert.All(live, t => Assert.Equal((2, "running", "healthy"), (t.Revision, t.State, t.Health)));
        var stopped = await flotilla.TasksAsync("shop", "stopped");
        Assert.All(old, id => Assert.Equal("replaced by deployment 2", stopped.Single(t => t.Id == id).StoppedReason));
        var (_, revisions) = await flotilla.CliAsync("revisions", "shop");
        Assert.Contains("env.VERSION: added", revisions);
    }

    [Fact(Timeout = 240_000)]
    public async Task Rolling_RevisionCrashingAtStart_FailsAndRollsBack_OldTasksUntouched_NoRequestFails()
    {
        await using var flotilla = await StartAsync(3);
        var before = (await flotilla.TasksAsync("shop", "live")).Select(t => (t.Id, t.Pid)).ToList();
        await using var load = new LoadGenerator(flotilla.Listener() + "/");

        var watch = Stopwatch.StartNew();
        var (deployCode, deployOutput) = await flotilla.CliAsync("deploy", "shop", "--command", "sh", "-c", "exit 3");
        var (statusCode, statusOutput) = await flotilla.CliAsync("rollout", "status", "shop");
        var rolledBack = await Eventually.Until(
            () => flotilla.CliAsync("deployments", "shop", "--json"),
            r => r.Output.Contains("\"rolled_back\"", StringComparison.Ordinal) && r.Output.Split("\"completed\"").Length > 2,
            TimeSpan.FromSeconds(60),
            "deployment 2 rolled back and the rollback completed");
        Report($"broken deploy to completed rollback: {watch.Elapsed.TotalSeconds:0.0}s");
        await load.StopAsync();

        Assert.True(deployCode == 0, deployOutput);
        Assert.Equal(1, statusCode);
        Assert.Contains("deployment 2 ROLLED_BACK", statusOutput);
        Assert.Contains("3 tasks of revision 2 failed to become healthy (circuit breaker threshold 3); rolling back to revision 1", rolledBack.Output);
        Assert.True(load.Failures.Count == 0, string.Join("\n", load.Failures));
        Assert.Equal(before, (await flotilla.TasksAsync("shop", "live")).Select(t => (t.Id, t.Pid)).ToList());
        Assert.Contains(await flotilla.EventsAsync(), e => e.Reason == "DeploymentFailed" && e.Warning);
    }

    [Fact(Timeout = 240_000)]
    public async Task Rolling_RevisionNeverHealthy_FailsAndRollsBack_NoRequestFails()
    {
        await using var flotilla = await StartAsync(3);
        var before = (await flotilla.TasksAsync("shop", "live")).Select(t => t.Id).ToList();
        await using var load = new LoadGenerator(flotilla.Listener() + "/");

        // A dependency that cannot be reached: /health/deep, the readiness check, never passes.
        await flotilla.CliAsync("deploy", "shop", "--env", "DEPENDS_ON=http://127.0.0.1:1/");
        var (statusCode, statusOutput) = await flotilla.CliAsync("rollout", "status", "shop");
        await Eventually.Until(() => flotilla.TasksAsync("shop", "live"), t => t.All(x => x.Revision == 1), TimeSpan.FromSeconds(60), "only revision 1 left");
        await load.StopAsync();

        Assert.Equal(1, statusCode);
        Assert.Contains("ROLLED_BACK", statusOutput);
        Assert.True(load.Failures.Count == 0, string.Join("\n", load.Failures));
        Assert.Equal(before, (await flotilla.TasksAsync("shop", "live")).Select(t => t.Id).ToList());
        Assert.Contains(await flotilla.TasksAsync("shop", "stopped"), t => t.Revision == 2 && t.StoppedReason == "failed to become healthy within its grace period");
    }

    [Fact(Timeout = 240_000)]
    public async Task Canary_NewRevisionFailingOneRequestInFive_IsRolledBackAtTheFirstStep()
    {
        await using var flotilla = await StartAsync(2, "deployment: { strategy: canary, steps: [25%, 100%], stepDuration: 6s }");
        await using var load = new LoadGenerator(flotilla.Listener() + "/");

        await flotilla.CliAsync("deploy", "shop", "--env", "FAIL_RATE=0.2");
        var (statusCode, statusOutput) = await flotilla.CliAsync("rollout", "status", "shop");
        await load.StopAsync();

        Assert.Equal(1, statusCode);
        Assert.Contains("deployment 2 ROLLED_BACK: canary step 1 (25%) failed: error rate", statusOutput);
        var events = await flotilla.EventsAsync();
        Assert.Contains(events, e => e.Message.StartsWith("deployment 2 of shop: canary step 1 of 2: 25% of traffic to revision 2", StringComparison.Ordinal));
        Assert.DoesNotContain(events, e => e.Message.Contains("canary step 1 (25%) passed", StringComparison.Ordinal));
        await Eventually.Until(() => flotilla.TasksAsync("shop", "live"), t => t.All(x => x.Revision == 1) && t.Count == 2, TimeSpan.FromSeconds(60), "only revision 1 left");
    }

    [Fact(Timeout = 240_000)]
    public async Task BlueGreen_SwitchUnderLoad_FailsNoRequest_ThenTheOldSetGoes()
    {
        await using var flotilla = await StartAsync(2, "deployment: { strategy: blue_green, bakeTime: 3s }");
        var old = (await flotilla.TasksAsync("shop", "live")).Select(t => t.Id).ToList();
        await using var load = new LoadGenerator(flotilla.Listener() + "/");

        await flotilla.CliAsync("deploy", "shop", "--env", "VERSION=2");
        var (statusCode, statusOutput) = await flotilla.CliAsync("rollout", "status", "shop");
        await load.StopAsync();

        Assert.True(statusCode == 0, statusOutput);
        Assert.True(load.Failures.Count == 0, string.Join("\n", load.Failures));
        Assert.Contains(await flotilla.EventsAsync(), e => e.Message.StartsWith("deployment 2 of shop: all traffic switched to revision 2", StringComparison.Ordinal));
        var live = await flotilla.TasksAsync("shop", "live");
        Assert.All(live, t => Assert.Equal(2, t.Revision));
        Assert.DoesNotContain(live, t => old.Contains(t.Id));
    }

    [Fact(Timeout = 240_000)]
    public async Task Apply_ChangedSpec_ShowsThePlanThenCarriesItOut_AndRefusesWhatNeedsARestart()
    {
        await using var flotilla = await StartAsync(2);
        var file = Path.Combine(flotilla.Directory, "flotilla.yaml");
        var original = await File.ReadAllTextAsync(file, TestContext.Current.CancellationToken);
        var changed = original
            .Replace("      - service: shop", "      - path: /extra\n        service: extra\n      - service: shop", StringComparison.Ordinal)
            .Replace("env: { ASPNETCORE_URLS: \"http://127.0.0.1:${PORT}\" }", "env: { ASPNETCORE_URLS: \"http://127.0.0.1:${PORT}\", VERSION: \"2\" }", StringComparison.Ordinal)
            + Specs.Shop("extra", 1) + "\n";
        await File.WriteAllTextAsync(Path.Combine(flotilla.Directory, "next.yaml"), changed, TestContext.Current.CancellationToken);

        var (dryCode, dryRun) = await flotilla.CliAsync("apply", "next.yaml", "--dry-run");
        var unchanged = await flotilla.TasksAsync("shop", "live");
        var (applyCode, applied) = await flotilla.CliAsync("apply", "next.yaml");

        Assert.True(dryCode == 0, dryRun);
        Assert.Contains("service shop will get a new revision, rolled out by a deployment", dryRun);
        Assert.Contains("    env.VERSION: added", dryRun);
        Assert.Contains("service extra will be added", dryRun);
        Assert.Contains("listener change: listeners[0].rules", dryRun);
        Assert.Contains("plan (not applied): 1 added, 1 changed (1 new revisions), 0 removed", dryRun);
        Assert.All(unchanged, t => Assert.Equal(1, t.Revision));
        Assert.True(applyCode == 0, applied);
        Assert.Contains("applied: 1 added, 1 changed (1 new revisions), 0 removed", applied);
        await flotilla.WaitForHealthyAsync("extra", 1);
        await Eventually.Until(() => flotilla.TasksAsync("shop", "live"), t => t.Count == 2 && t.All(x => x.Revision == 2 && x.Health == "healthy"), TimeSpan.FromSeconds(60), "shop on revision 2");
        using var routed = await flotilla.Http.GetAsync(flotilla.Listener() + "/extra/x", TestContext.Current.CancellationToken);
        Assert.Equal("extra-1", routed.Headers.GetValues("X-Task-Id").Single());

        // The access log changes in place: turned off, a request leaves no line; turned on again, the next one does.
        // Lines are written in order, so once the second is in the file the first would be too, had it been logged.
        await File.WriteAllTextAsync(Path.Combine(flotilla.Directory, "quiet.yaml"), "accessLog: { enabled: false }\n" + changed, TestContext.Current.CancellationToken);
        var (quietCode, quiet) = await flotilla.CliAsync("apply", "quiet.yaml");
        Assert.True(quietCode == 0, quiet);
        Assert.Contains("access log change: accessLog.enabled: true → false", quiet);
        (await flotilla.Http.GetAsync(flotilla.Listener() + "/extra/while-off", TestContext.Current.CancellationToken)).Dispose();
        var (loudCode, loud) = await flotilla.CliAsync("apply", "next.yaml");
        Assert.True(loudCode == 0, loud);
        (await flotilla.Http.GetAsync(flotilla.Listener() + "/extra/after", TestContext.Current.CancellationToken)).Dispose();
        var paths = await Eventually.Until(
            () => Task.FromResult(flotilla.AccessLog().Select(l => l.GetProperty("path").GetString()).ToList()),
            logged => logged.Contains("/extra/after"),
            TimeSpan.FromSeconds(10),
            "the access-log line of the request after the log was turned on again");
        Assert.DoesNotContain("/extra/while-off", paths);

        var moved = changed.Replace("listen: 127.0.0.1:0", "listen: 127.0.0.1:1", StringComparison.Ordinal);
        await File.WriteAllTextAsync(Path.Combine(flotilla.Directory, "moved.yaml"), moved.Replace("admin: { listen: 127.0.0.1:1 }", "admin: { listen: 127.0.0.1:0 }", StringComparison.Ordinal), TestContext.Current.CancellationToken);
        var (refusedCode, refused) = await flotilla.CliAsync("apply", "moved.yaml");
        Assert.Equal(1, refusedCode);
        Assert.Contains("needs a restart: listeners[0].listen: 127.0.0.1:0 → 127.0.0.1:1", refused);
        Assert.Contains("nothing was applied", refused);
    }
}
