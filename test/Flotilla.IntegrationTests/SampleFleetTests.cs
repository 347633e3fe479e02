using System.Diagnostics;
using System.Net;
using System.Text.Json;
using Flotilla.IntegrationTests.Infrastructure;

namespace Flotilla.IntegrationTests;

/// <summary>One fleet shaped like the sample (shop × 3 with least_requests, orders × 1 behind a host rule, and a
/// service scaled to 0), shared by tests that only look at it.</summary>
public sealed class SampleFleet : IAsyncLifetime
{
    private static readonly string Spec = Specs.Fleet(
        """
        listeners:
          - name: web
            listen: 127.0.0.1:0
            rules:
              - host: orders.example.com
                service: orders
              - path: /empty
                service: empty
              - path: /
                service: shop
        """,
        Specs.Shop("shop", 3, "least_requests"),
        Specs.Shop("orders", 1),
        Specs.Shop("empty", 0));

    internal FlotillaInstance Flotilla { get; private set; } = null!;

    /// <summary>From starting <c>flotilla up</c> to every desired task healthy.</summary>
    public TimeSpan TimeToHealthy { get; private set; }

    public async ValueTask InitializeAsync()
    {
        var watch = Stopwatch.StartNew();
        Flotilla = await FlotillaInstance.StartAsync(Spec);
        await Flotilla.WaitForHealthyAsync("shop", 3);
        await Flotilla.WaitForHealthyAsync("orders", 1);
        TimeToHealthy = watch.Elapsed;
    }

    public async ValueTask DisposeAsync() => await Flotilla.DisposeAsync();
}

public sealed class SampleFleetTests(SampleFleet fleet) : IClassFixture<SampleFleet>
{
    private static CancellationToken Cancel => TestContext.Current.CancellationToken;

    private FlotillaInstance Flotilla => fleet.Flotilla;

    [Fact(Timeout = 120_000)]
    public async Task Up_SampleLikeSpec_RunsEveryDesiredTaskHealthyWithItsOwnPortAndLog()
    {
        TestContext.Current.TestOutputHelper?.WriteLine($"time from flotilla up to 4 healthy tasks: {fleet.TimeToHealthy.TotalSeconds:0.0}s");
        var tasks = await Flotilla.TasksAsync(state: "live");

        Assert.Equal(["orders-1", "shop-1", "shop-2", "shop-3"], tasks.Select(t => t.Id).Order());
        Assert.Equal(4, tasks.Select(t => t.Port).Distinct().Count());
        Assert.All(tasks, t => Assert.True(t.Pid > 0 && t.StartedAt is not null && t.Revision == 1, t.ToString()));
        Assert.All(tasks, t => Assert.True(File.Exists(Path.Combine(Flotilla.StateDirectory, "logs", $"{t.Id}.log")), $"log file of {t.Id}"));

        var events = await Flotilla.EventsAsync();
        Assert.Contains(events, e => e.Message == "service shop has reached a steady state");
        Assert.Contains(events, e => e.Message == "service orders has reached a steady state");
        Assert.Contains(events, e => e.Message == "service empty has reached a steady state");
    }

    [Fact(Timeout = 120_000)]
    public async Task Listener_ThirtyRequests_ReachAllThreeTasks()
    {
        var seen = new List<string>();
        for (var i = 0; i < 30; i++)
        {
            using var response = await Flotilla.Http.GetAsync(Flotilla.Listener() + "/", Cancel);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            seen.Add(response.Headers.GetValues("X-Task-Id").Single());
        }

        Assert.Equal(["shop-1", "shop-2", "shop-3"], seen.Distinct().Order());
    }

    [Fact(Timeout = 120_000)]
    public async Task Listener_HostRule_RoutesToItsServiceAndOtherHostsToTheCatchAll()
    {
        using var orders = new HttpRequestMessage(HttpMethod.Get, Flotilla.Listener() + "/anything");
        orders.Headers.Host = "orders.example.com";
        using var ordersResponse = await Flotilla.Http.SendAsync(orders, Cancel);
        using var shopResponse = await Flotilla.Http.GetAsync(Flotilla.Listener() + "/anything", Cancel);

        Assert.Equal("orders-1", ordersResponse.Headers.GetValues("X-Task-Id").Single());
        Assert.StartsWith("shop-", shopResponse.Headers.GetValues("X-Task-Id").Single());
        var body = JsonDocument.Parse(await shopResponse.Content.ReadAsStringAsync(Cancel)).RootElement;
        Assert.Equal("/anything", body.GetProperty("path").GetString());
    }

    [Fact(Timeout = 120_000)]
    public async Task Listener_ServiceWithNoHealthyTask_Answers503WithRetryAfter()
    {
        using var response = await Flotilla.Http.GetAsync(Flotilla.Listener() + "/empty/x", Cancel);

        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        Assert.Equal(TimeSpan.FromSeconds(1), response.Headers.RetryAfter?.Delta);
        Assert.Contains("no healthy targets for service empty", await response.Content.ReadAsStringAsync(Cancel));
    }

    [Fact(Timeout = 120_000)]
    public async Task Api_WithoutOrWithAWrongToken_Answers401_WhileHealthzIsOpen()
    {
        using var none = await Flotilla.Http.GetAsync(Flotilla.Admin.Url + "/api/v1/services", Cancel);
        using var wrong = new HttpRequestMessage(HttpMethod.Post, Flotilla.Admin.Url + "/api/v1/services/shop/scale")
        {
            Content = new StringContent("{\"desired\": 0}"),
        };
        wrong.Headers.Authorization = new("Bearer", "not-the-token");
        using var wrongResponse = await Flotilla.Http.SendAsync(wrong, Cancel);
        using var healthz = await Flotilla.Http.GetAsync(Flotilla.Admin.Url + "/healthz", Cancel);
        using var right = await Flotilla.Api.GetAsync("services", Cancel);

        Assert.Equal(HttpStatusCode.Unauthorized, none.StatusCode);
        Assert.Equal("Bearer", none.Headers.WwwAuthenticate.Single().Scheme);
        Assert.Equal(HttpStatusCode.Unauthorized, wrongResponse.StatusCode);
        Assert.Equal(HttpStatusCode.OK, healthz.StatusCode);
        Assert.Equal(HttpStatusCode.OK, right.StatusCode);
        Assert.Equal(3, (await Flotilla.TasksAsync("shop", "live")).Count);
    }

    [Theory(Timeout = 120_000)]
    [InlineData("{\"desired\": -1}", "desired must be between 0 and 100, got -1")]
    [InlineData("{\"desired\": 101}", "desired must be between 0 and 100, got 101")]
    [InlineData("{\"desired\": \"three\"}", "the body must be JSON like {\"desired\": 3}")]
    [InlineData("{}", "desired is required")]
    [InlineData("not json", "the body must be JSON like {\"desired\": 3}")]
    public async Task Api_ScaleWithABadBody_Answers400SayingWhy(string body, string expected)
    {
        using var response = await Flotilla.Api.PostAsync("services/shop/scale", new StringContent(body), Cancel);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var detail = JsonDocument.Parse(await response.Content.ReadAsStringAsync(Cancel)).RootElement.GetProperty("detail").GetString();
        Assert.StartsWith(expected, detail);
        Assert.DoesNotContain("Flotilla.", detail);
    }

    [Fact(Timeout = 120_000)]
    public async Task Api_UnknownServiceOrTask_Answers404()
    {
        using var service = await Flotilla.Api.GetAsync("services/nope", Cancel);
        using var scale = await Flotilla.Api.PostAsync("services/nope/scale", new StringContent("{\"desired\": 1}"), Cancel);
        using var task = await Flotilla.Api.PostAsync("tasks/nope-1/stop", null, Cancel);

        Assert.Equal([HttpStatusCode.NotFound, HttpStatusCode.NotFound, HttpStatusCode.NotFound], [service.StatusCode, scale.StatusCode, task.StatusCode]);
    }

    [Fact(Timeout = 120_000)]
    public async Task Cli_PsJson_GivesTheDocumentedFieldsOfEveryTask()
    {
        var (code, output) = await Flotilla.CliAsync("ps", "--json");

        Assert.Equal(0, code);
        var tasks = JsonDocument.Parse(output).RootElement.EnumerateArray().ToList();
        Assert.Equal(4, tasks.Count);
        string[] fields = ["id", "service", "revision", "state", "health", "port", "pid", "startedAt", "stoppedAt", "stoppedReason"];
        Assert.All(tasks, t => Assert.All(fields, f => Assert.True(t.TryGetProperty(f, out _), $"field {f} in {t}")));
    }

    [Fact(Timeout = 120_000)]
    public async Task Cli_Tables_ShowServicesAndTasks()
    {
        var (servicesCode, services) = await Flotilla.CliAsync("services");
        var (psCode, ps) = await Flotilla.CliAsync("ps", "--service", "shop");

        Assert.Equal(0, servicesCode);
        Assert.Matches(@"shop\s+1\s+3\s+3\s+3\s+steady\s+least_requests", services);
        Assert.Matches(@"empty\s+1\s+0\s+0\s+0\s+steady", services);
        Assert.Equal(0, psCode);
        Assert.Equal(3, ps.Split('\n').Count(line => line.StartsWith("shop-", StringComparison.Ordinal) && line.Contains("healthy")));
        Assert.DoesNotContain("orders-1", ps);
    }

    [Fact(Timeout = 120_000)]
    public async Task Metrics_AfterTraffic_PassPromtoolAndHaveEveryFamily()
    {
        for (var i = 0; i < 5; i++)
        {
            using var ok = await Flotilla.Http.GetAsync(Flotilla.Listener() + "/", Cancel);
            using var fail = await Flotilla.Http.GetAsync(Flotilla.Listener() + "/fail", Cancel);
        }

        var metrics = await Flotilla.Http.GetStringAsync(Flotilla.Admin.Url + "/metrics", Cancel);
        var (code, promtool) = await Promtool.CheckMetricsAsync(metrics);

        Assert.True(code == 0, $"promtool check metrics failed ({code}):\n{promtool}\n{metrics}");
        Assert.Matches(@"flotilla_requests_total\{[^}]*code=""200"",listener=""web"",service=""shop""\} [1-9]", metrics);
        Assert.Matches(@"flotilla_requests_total\{[^}]*code=""500"",listener=""web"",service=""shop""\} 5", metrics);
        Assert.Matches(@"flotilla_request_duration_seconds_bucket\{[^}]*listener=""web"",service=""shop""[^}]*le=""\+Inf""\} [1-9]", metrics);
        Assert.Matches(@"flotilla_target_requests_total\{[^}]*code=""500"",service=""shop"",task=""shop-\d+""\} [1-5]", metrics);
        Assert.Matches(@"flotilla_target_response_time_seconds_bucket\{[^}]*service=""shop"",task=""shop-\d+""[^}]*le=""\+Inf""\} [1-9]", metrics);
        Assert.Matches(@"flotilla_target_in_flight\{[^}]*service=""shop"",task=""shop-\d+""\} 0", metrics);
        Assert.Matches(@"flotilla_target_ejected\{[^}]*service=""shop""\} 0", metrics);
        Assert.Matches(@"flotilla_panic\{[^}]*service=""shop""\} 0", metrics);
        Assert.Matches(@"flotilla_access_log_dropped_total\{[^}]*\} 0", metrics);
        Assert.Matches(@"flotilla_targets\{[^}]*health=""healthy"",service=""shop""\} 3", metrics);
        Assert.Matches(@"flotilla_tasks\{[^}]*service=""shop"",state=""running""\} 3", metrics);

        // .NET's own meter, for the process behind the numbers; its thread-pool count and queue length are left out (the
        // exporter would write them as counters, though they go down), and promtool above has passed on the rest.
        Assert.Matches(@"dotnet_gc_heap_total_allocated_bytes_total\{otel_scope_name=""System.Runtime""\} [1-9]", metrics);
        Assert.Matches(@"dotnet_gc_collections_total\{otel_scope_name=""System.Runtime"",gc_heap_generation=""gen0""\} \d", metrics);
        Assert.Matches(@"dotnet_process_cpu_time_seconds_total\{[^}]*\} \d", metrics);
        Assert.DoesNotMatch("dotnet_thread_pool_(thread_count|queue_length)", metrics);
    }

    [Fact(Timeout = 120_000)]
    public async Task Token_AfterAuthenticatedCalls_AppearsInNoLogOrEvent()
    {
        await Flotilla.TasksAsync();
        await Flotilla.CliAsync("services");
        using var bad = new HttpRequestMessage(HttpMethod.Get, Flotilla.Admin.Url + "/api/v1/tasks");
        bad.Headers.Authorization = new("Bearer", Flotilla.Admin.Token + "x");
        using var _ = await Flotilla.Http.SendAsync(bad, Cancel);

        Assert.DoesNotContain(Flotilla.Admin.Token, Flotilla.Process.Output);
        Assert.DoesNotContain(Flotilla.Admin.Token, await File.ReadAllTextAsync(Path.Combine(Flotilla.StateDirectory, "events.jsonl"), Cancel));
        foreach (var log in Directory.GetFiles(Path.Combine(Flotilla.StateDirectory, "logs")))
        {
            Assert.DoesNotContain(Flotilla.Admin.Token, await File.ReadAllTextAsync(log, Cancel));
        }

        var mode = File.GetUnixFileMode(Path.Combine(Flotilla.StateDirectory, "admin.json"));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, mode);
    }
}
