using System.Globalization;
using System.Net.Http.Json;
using System.Text;
using System.Text.RegularExpressions;
using Flotilla.Api;
using Flotilla.IntegrationTests.Infrastructure;

namespace Flotilla.IntegrationTests;

/// <summary>
/// The autoscaler with real tasks: a load this test generates through the load balancer, and a backlog it pushes
/// through the metrics API. Cooldowns of seconds and an evaluation every second keep each test under a minute.
/// </summary>
public sealed class AutoscalingTests
{
    private static readonly TimeSpan ScaleTimeout = TimeSpan.FromSeconds(60);

    [Fact(Timeout = 180_000)]
    public async Task Autoscaling_RequestsInFlightAboveTarget_ScalesOutToTheNeededCountThenBackInAfterTheLoadStops()
    {
        // 8 clients, each with one request of 300 ms in flight at all times, against a target of 2 per task: 4 tasks.
        await using var flotilla = await FlotillaInstance.StartAsync(Specs.Fleet(
            Specs.Web("shop"),
            Specs.Shop("shop", 1, "least_requests", extra:
            [
                "autoscaling:",
                "  min: 1",
                "  max: 6",
                "  scaleOutCooldown: 2s",
                "  scaleInCooldown: 3s",
                "  warmup: 2s",
                "  evaluationInterval: 1s",
                "  policies:",
                "    - name: concurrency",
                "      targetTracking: { metric: active_requests, target: 2 }",
            ])));
        await flotilla.WaitForHealthyAsync("shop", 1);

        await using (var load = new LoadGenerator($"{flotilla.Listener()}/work?ms=300", clients: 8))
        {
            await flotilla.WaitForHealthyAsync("shop", 4, ScaleTimeout);
            var scaledOut = (await flotilla.EventsAsync()).Where(e => e.Message.StartsWith("scaled shop", StringComparison.Ordinal)).ToList();
            Assert.Matches(@"^scaled shop 1 → \d: active_requests [\d.]+ per target > target 2 \(policy concurrency\)$", scaledOut[0].Message);
            Assert.Equal(4, (await ServiceAsync(flotilla, "shop")).Desired);
            Assert.True(load.Failures.Count == 0, $"{load.Failures.Count} requests failed under load ({load.Succeeded} succeeded):\n{string.Join("\n", load.Failures)}");
        }

        var tasks = await flotilla.WaitForHealthyAsync("shop", 1, ScaleTimeout);
        var events = (await flotilla.EventsAsync()).Select(e => e.Message).ToList();
        var all = string.Join("\n", events);
        // Out to 4 and never beyond (in one step, or two when the first window saw only part of the load's first
        // second), then in by one task per scale-in cooldown. The first evaluation after the load stops may still see
        // part of it in its window (e.g. 0.2 per target), so only the later steps' figures are certain.
        var changes = events.Select(e => Regex.Match(e, @"^scaled shop (\d+) → (\d+):")).Where(m => m.Success)
            .Select(m => (From: int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture), To: int.Parse(m.Groups[2].Value, CultureInfo.InvariantCulture)))
            .ToList();
        var scaleOuts = changes.TakeWhile(c => c.To > c.From).ToList();
        Assert.True(scaleOuts.Count is 1 or 2 && scaleOuts[^1].To == 4, all);
        Assert.True(changes.Skip(scaleOuts.Count).SequenceEqual([(4, 3), (3, 2), (2, 1)]), all);
        Assert.True(events.Contains("scaled shop 3 → 2: active_requests 0 per target < target 2 (policy concurrency); at most 1 per scale-in cooldown (3s)"), all);
        Assert.True(events.Contains("scaled shop 2 → 1: active_requests 0 per target < target 2 (policy concurrency); not below min 1"), all);
        Assert.Equal("shop-1", tasks.Single().Id);

        var (code, output) = await flotilla.CliAsync("autoscaling", "shop");
        Assert.True(code == 0, output);
        Assert.Contains("service shop: desired 1 (1 running, 1 healthy), min 1, max 6", output);
        Assert.Contains("concurrency", output);
        Assert.Contains("last change", output);
    }

    [Fact(Timeout = 180_000)]
    public async Task Autoscaling_BacklogPushedThroughTheApi_DrivesAWorkerFromZeroToNAndBackToZero()
    {
        await using var flotilla = await FlotillaInstance.StartAsync(Specs.Fleet(
            "",
            Specs.Shop("worker", 0, extra:
            [
                "autoscaling:",
                "  min: 0",
                "  max: 3",
                "  scaleInCooldown: 2s",
                "  evaluationInterval: 1s",
                "  policies:",
                "    - name: backlog",
                "      targetTracking: { metric: queue_depth, target: 10, perTask: true }",
            ])));

        await using (new BacklogPusher(flotilla.Api, "worker", 25))
        {
            await flotilla.WaitForHealthyAsync("worker", 3, ScaleTimeout);
        }

        Assert.Contains(await flotilla.EventsAsync(), e => e.Message == "scaled worker 0 → 3: queue_depth 25 with no task in service, target 10 per task (policy backlog)");
        var (refused, refusedOutput) = await flotilla.CliAsync("scale", "worker", "10");
        Assert.Equal(1, refused);
        Assert.Contains("service worker is autoscaled between min 0 and max 3; ask for a count in that range", refusedOutput);

        await using (new BacklogPusher(flotilla.Api, "worker", 0))
        {
            await Eventually.Until(() => flotilla.TasksAsync("worker", "live"), live => live.Count == 0, ScaleTimeout, "no worker task left once the backlog is 0");
        }

        var scaled = (await flotilla.EventsAsync()).Where(e => e.Message.StartsWith("scaled worker", StringComparison.Ordinal)).Select(e => e.Message[..e.Message.IndexOf(':', StringComparison.Ordinal)]);
        Assert.Equal(["scaled worker 0 → 3", "scaled worker 3 → 2", "scaled worker 2 → 1", "scaled worker 1 → 0"], scaled);
        using var api = await flotilla.Api.GetAsync("services/worker/autoscaling", TestContext.Current.CancellationToken);
        var status = await api.Content.ReadFromJsonAsync(AutoscalingJson.Default.AutoscalingDto, TestContext.Current.CancellationToken);
        Assert.Equal((0, 0, 3), (status!.Desired, status.Min, status.Max));
        Assert.Equal("backlog", status.Policies.Single().Name);
        Assert.Equal((1, 0), (status.LastChange!.From, status.LastChange.To));

        // A changed autoscaling block, applied to the running fleet, is what the autoscaler uses from then on.
        var file = Path.Combine(flotilla.Directory, "flotilla.yaml");
        var spec = await File.ReadAllTextAsync(file, TestContext.Current.CancellationToken);
        await File.WriteAllTextAsync(file, spec.Replace("  max: 3", "  max: 2", StringComparison.Ordinal), TestContext.Current.CancellationToken);
        var (applyCode, applied) = await flotilla.CliAsync("apply", "flotilla.yaml");
        Assert.True(applyCode == 0, applied);
        await using (new BacklogPusher(flotilla.Api, "worker", 25))
        {
            await flotilla.WaitForHealthyAsync("worker", 2, ScaleTimeout);
        }

        Assert.Contains(await flotilla.EventsAsync(), e => e.Message.StartsWith("scaled worker 0 → 2: ", StringComparison.Ordinal));
    }

    private static async Task<ServiceDto> ServiceAsync(FlotillaInstance flotilla, string name) =>
        await flotilla.Api.GetFromJsonAsync($"services/{name}", FlotillaJson.Default.ServiceDto, TestContext.Current.CancellationToken)
        ?? throw new InvalidOperationException($"no service {name}");

    /// <summary>Pushes a service's <c>queue_depth</c> through the API five times a second until disposed, as a worker's queue would.</summary>
    private sealed class BacklogPusher : IAsyncDisposable
    {
        private readonly CancellationTokenSource _stop = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        private readonly Task _pushing;

        public BacklogPusher(HttpClient api, string service, double backlog)
        {
            _stop.CancelAfter(TimeSpan.FromMinutes(2));
            _pushing = Task.Run(async () =>
            {
                while (!_stop.IsCancellationRequested)
                {
                    using var body = new StringContent($$"""{"value": {{backlog}}}""", Encoding.UTF8, "application/json");
                    using var response = await api.PutAsync($"metrics/{service}/queue_depth", body, CancellationToken.None);
                    response.EnsureSuccessStatusCode();
                    try
                    {
                        await Task.Delay(TimeSpan.FromMilliseconds(200), _stop.Token);
                    }
                    catch (OperationCanceledException)
                    {
                        return;
                    }
                }
            });
        }

        public async ValueTask DisposeAsync()
        {
            await _stop.CancelAsync();
            await _pushing;
            _stop.Dispose();
        }
    }
}
