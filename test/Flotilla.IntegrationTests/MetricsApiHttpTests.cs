using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Flotilla.Api;
using Flotilla.IntegrationTests.Infrastructure;
using Flotilla.Telemetry;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Flotilla.IntegrationTests;

/// <summary>
/// The metrics API and its tick in a real host on a dynamic port, sampling this test process through /proc: what the
/// handler tests cannot show, that routing, binding, JSON and the once-a-second tick work together.
/// </summary>
public sealed class MetricsApiHttpTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(20);

    [Fact(Timeout = 60_000)]
    public async Task MetricsApi_InARealHost_StoresPushedValuesAndSamplesTheTaskProcess()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Services.AddSingleton(TimeProvider.System);
        builder.Services.AddFlotillaMetricStore(_ => new MetricsFleet(
            () => ["worker"],
            () => [new RunningTask("worker", "worker-1", Environment.ProcessId, InFlight: new InFlightReading(Now: 2, BusyTicks: 0, Timestamp: 0))]));
        await using var app = builder.Build();
        app.MapGroup("/api/v1").MapMetricsApi();
        await app.StartAsync(TestContext.Current.CancellationToken);
        using var http = new HttpClient { BaseAddress = new Uri(app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single()) };

        using var put = await http.PutAsync("/api/v1/metrics/worker/queue_depth", Json("""{"value": 17}"""), TestContext.Current.CancellationToken);
        Assert.Equal(HttpStatusCode.NoContent, put.StatusCode);
        using var bad = await http.PutAsync("/api/v1/metrics/worker/queue_depth", Json("""{"value": "x"}"""), TestContext.Current.CancellationToken);
        Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
        Assert.Equal("application/problem+json", bad.Content.Headers.ContentType?.MediaType);

        var queueDepth = await Eventually.Until(
            () => GetJsonAsync(http, "/api/v1/metrics/worker/queue_depth?from=1m"),
            range => range.GetProperty("points").GetArrayLength() == 1,
            Timeout,
            "the pushed queue depth as one point once its second closed");
        Assert.Equal(17, queueDepth.GetProperty("points")[0].GetProperty("value").GetDouble());

        var cpu = await Eventually.Until(
            () => GetJsonAsync(http, "/api/v1/metrics/worker/cpu?task=worker-1&from=1m"),
            range => range.GetProperty("points").GetArrayLength() > 0,
            Timeout,
            "a CPU point for this process, after two readings of /proc");
        Assert.True(cpu.GetProperty("points")[0].GetProperty("value").GetDouble() >= 0);

        var described = await GetJsonAsync(http, "/api/v1/metrics/worker");
        var latest = described.GetProperty("metrics").EnumerateArray().ToDictionary(m => m.GetProperty("name").GetString()!, m => m.GetProperty("value"));
        Assert.True(latest["rss"].GetDouble() > 1 << 20, $"rss {latest["rss"]}");
        Assert.Equal(2, latest["in_flight"].GetDouble());
        Assert.Equal(17, latest["queue_depth"].GetDouble());

        using var unknown = await http.GetAsync("/api/v1/metrics/nope", TestContext.Current.CancellationToken);
        Assert.Equal(HttpStatusCode.NotFound, unknown.StatusCode);
    }

    private static StringContent Json(string body) => new(body, Encoding.UTF8, "application/json");

    private static async Task<JsonElement> GetJsonAsync(HttpClient http, string path) =>
        await http.GetFromJsonAsync<JsonElement>(path, TestContext.Current.CancellationToken);
}
