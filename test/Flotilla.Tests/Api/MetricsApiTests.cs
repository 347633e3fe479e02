using System.Text;
using Flotilla.Api;
using Flotilla.Core.Metrics;
using Flotilla.Telemetry;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Time.Testing;

namespace Flotilla.Tests.Api;

public sealed class MetricsApiTests
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 22, 10, 0, 0, TimeSpan.Zero);
    private readonly FakeTimeProvider _time = new(T0);
    private readonly MetricsFleet _fleet = new(() => ["shop", "worker"], () => []);
    private readonly MetricStore _store;

    public MetricsApiTests()
    {
        _store = new MetricStore(_time);
    }

    private void Tick(int seconds = 1)
    {
        for (var i = 0; i < seconds; i++)
        {
            _time.Advance(TimeSpan.FromSeconds(1));
            _store.Advance();
        }
    }

    private Task<IResult> Put(string service, string name, string body)
    {
        var context = new DefaultHttpContext();
        context.Request.Body = new MemoryStream(Encoding.UTF8.GetBytes(body));
        return MetricsApi.PutAsync(service, name, context.Request, _store, _fleet);
    }

    private IResult Range(string name, string? from = null, string? to = null, string? step = null, string? task = null, string service = "shop") =>
        MetricsApi.Range(service, name, from, to, step, task, _store, _fleet, _time);

    private static string Problem(IResult result, int status)
    {
        var problem = Assert.IsType<ProblemHttpResult>(result);
        Assert.Equal(status, problem.StatusCode);
        return problem.ProblemDetails.Detail!;
    }

    [Fact]
    public async Task Put_AValue_IsStoredAndRangedBack()
    {
        Assert.IsType<NoContent>(await Put("worker", "queue_depth", """{"value": 42}"""));
        Tick();
        Assert.IsType<NoContent>(await Put("worker", "queue_depth", """{"value": 40.5, "task": "worker-1"}"""));
        Tick();

        var range = Assert.IsType<JsonHttpResult<MetricRangeDto>>(Range("queue_depth", from: "5m", service: "worker")).Value!;
        var taskRange = Assert.IsType<JsonHttpResult<MetricRangeDto>>(Range("queue_depth", task: "worker-1", service: "worker")).Value!;

        Assert.Equal([new MetricPointDto(T0, 42)], range.Points);
        Assert.Equal([new MetricPointDto(T0.AddSeconds(1), 40.5)], taskRange.Points);
        Assert.Equal("1s", range.Step);
    }

    [Theory]
    [InlineData("", "not valid JSON")]
    [InlineData("{", "not valid JSON")]
    [InlineData("""{"value": "high"}""", "value has the wrong type")]
    [InlineData("""{"task": "worker-1"}""", "value is required")]
    [InlineData("""{"value": 1, "task": ""}""", "names a task")]
    public async Task Put_MalformedBody_Is400SayingWhatToSend(string body, string expected)
    {
        var detail = Problem(await Put("worker", "queue_depth", body), StatusCodes.Status400BadRequest);

        Assert.Contains(expected, detail, StringComparison.Ordinal);
        Assert.Contains("{\"value\": 42}", detail, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("requests", "built-in")]
    [InlineData("Queue-Depth", "lower-case")]
    public async Task Put_BadName_Is400(string name, string expected) =>
        Assert.Contains(expected, Problem(await Put("worker", name, """{"value": 1}"""), StatusCodes.Status400BadRequest), StringComparison.Ordinal);

    [Fact]
    public async Task Put_UnknownService_Is404ListingTheServices() =>
        Assert.Contains("services: shop, worker", Problem(await Put("nope", "queue_depth", """{"value": 1}"""), StatusCodes.Status404NotFound), StringComparison.Ordinal);

    [Fact]
    public async Task Put_TooManySeries_Is409()
    {
        for (var i = 0; i < new MetricStoreOptions().MaxCustomSeriesPerService; i++)
        {
            await Put("worker", $"m{i}", """{"value": 1}""");
        }

        Problem(await Put("worker", "one_more", """{"value": 1}"""), StatusCodes.Status409Conflict);
    }

    [Fact]
    public void Describe_AService_ListsItsMetricsWithTheirNewestPointsAndItsTasks()
    {
        _store.RecordRequest("shop", "shop-1", 200, TimeSpan.FromMilliseconds(8));
        Tick();

        var described = Assert.IsType<JsonHttpResult<ServiceMetricsDto>>(MetricsApi.Describe("shop", _store, _fleet)).Value!;

        Assert.Equal(["shop-1"], described.Tasks);
        Assert.Equal(new LatestMetricDto("requests", "requests/s", T0, 1), described.Metrics[0]);
        Assert.Contains(described.Metrics, m => m is { Name: "latency_p99", Unit: "seconds", Value: > 0.0075 and < 0.0085 });
        Assert.Contains(described.Metrics, m => m is { Name: "cpu", Value: null });
    }

    [Fact]
    public void Range_FromAsAnIsoTimeAndStep_ReturnsAlignedPoints()
    {
        for (var second = 0; second < 20; second++)
        {
            _store.RecordRequest("shop", "shop-1", 200, TimeSpan.FromMilliseconds(8));
            Tick();
        }

        var range = Assert.IsType<JsonHttpResult<MetricRangeDto>>(Range("requests", from: "2026-11-22T10:00:00Z", to: "now", step: "10s")).Value!;

        Assert.Equal([new MetricPointDto(T0, 1), new MetricPointDto(T0.AddSeconds(10), 1)], range.Points);
        Assert.Equal("10s", range.Step);
        Assert.Equal("requests/s", range.Unit);
    }

    [Theory]
    [InlineData("latency_mean", null, null, "not a latency percentile")]
    [InlineData("requests", "yesterday", null, "from must be a time")]
    [InlineData("requests", null, "soon", "to must be a time")]
    [InlineData("requests", null, null, "step must be a duration", "10")]
    [InlineData("requests", "2h", null, "whole minutes", "10s")]
    [InlineData("requests", "now", "5m", "must be before")]
    public void Range_BadParameters_Is400SayingWhy(string name, string? from, string? to, string expected, string? step = null) =>
        Assert.Contains(expected, Problem(Range(name, from, to, step), StatusCodes.Status400BadRequest), StringComparison.Ordinal);

    [Fact]
    public void Range_UnknownTaskOrCustomMetric_Is404()
    {
        _store.RecordRequest("shop", "shop-1", 200, TimeSpan.FromMilliseconds(8));
        Tick();

        Assert.Contains("tasks with metrics: shop-1", Problem(Range("requests", task: "shop-9"), StatusCodes.Status404NotFound), StringComparison.Ordinal);
        Assert.Contains("no metric 'queue_dept'", Problem(Range("queue_dept"), StatusCodes.Status404NotFound), StringComparison.Ordinal);
        Problem(Range("requests", service: "nope"), StatusCodes.Status404NotFound);
    }
}
