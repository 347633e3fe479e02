using Flotilla.Core.Metrics;
using Microsoft.Extensions.Time.Testing;

namespace Flotilla.Tests.Metrics;

public sealed class MetricStoreTests
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 22, 10, 0, 0, TimeSpan.Zero);
    private readonly FakeTimeProvider _time = new(T0);
    private readonly MetricStore _store;

    public MetricStoreTests()
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

    private void Record(string? task, int count, int status = 200, double milliseconds = 10, string service = "shop")
    {
        for (var i = 0; i < count; i++)
        {
            _store.RecordRequest(service, task, status, TimeSpan.FromMilliseconds(milliseconds));
        }
    }

    private List<MetricPoint> Points(Metric metric, DateTimeOffset from, TimeSpan? step = null, string? task = null)
    {
        Assert.True(_store.TryQuery(new MetricQuery("shop", metric, from, _time.GetUtcNow()) { Step = step, Task = task }, out var range, out var error), error);
        return [.. range.Points];
    }

    private static void AssertLatency(double expectedSeconds, double? actual) =>
        Assert.Equal(expectedSeconds, actual!.Value, expectedSeconds * (LatencyBuckets.RelativeError + 1e-9));

    [Fact]
    public void RecordRequest_OneSecond_BecomesRatesOfTheTaskAndTheService()
    {
        Record("shop-1", 5);
        Record("shop-1", 2, status: 503);
        Record("shop-2", 3);

        Tick();

        Assert.Equal(new MetricPoint(T0, 10), _store.Latest("shop", Metric.Requests));
        Assert.Equal(2, _store.Latest("shop", Metric.Errors)?.Value);
        Assert.Equal(7, _store.Latest("shop", Metric.Requests, "shop-1")?.Value);
        Assert.Equal(0, _store.Latest("shop", Metric.Errors, "shop-2")?.Value);
    }

    [Fact]
    public void RecordRequest_BeforeTheSecondEnds_IsNotVisible()
    {
        Record("shop-1", 5);

        _store.Advance();

        Assert.Null(_store.Latest("shop", Metric.Requests));
    }

    [Fact]
    public void RecordRequest_NoTask_CountsForTheServiceWithoutLatency()
    {
        Record(task: null, 4, status: 503, milliseconds: 0.01);
        Record("shop-1", 1, milliseconds: 20);

        Tick();

        Assert.Equal(5, _store.Latest("shop", Metric.Requests)?.Value);
        Assert.Equal(4, _store.Latest("shop", Metric.Errors)?.Value);
        AssertLatency(0.020, _store.Latest("shop", Metric.LatencyP50)?.Value);
    }

    [Theory]
    [InlineData(200, false)]
    [InlineData(404, false)]
    [InlineData(499, false)]
    [InlineData(500, true)]
    [InlineData(502, true)]
    [InlineData(0, true)]
    public void RecordRequest_Status_CountsAsAnErrorWhen5xxOrNoResponse(int status, bool isError)
    {
        Record("shop-1", 1, status);

        Tick();

        Assert.Equal(isError ? 1 : 0, _store.Latest("shop", Metric.Errors)?.Value);
    }

    [Fact]
    public void Advance_LateTick_SpreadsTheCountsOverTheSecondsItCloses()
    {
        Record("shop-1", 30);

        _time.Advance(TimeSpan.FromSeconds(3));
        _store.Advance();

        Assert.Equal([10.0, 10.0, 10.0], Points(Metric.Requests, T0).Select(p => p.Value));
    }

    [Fact]
    public void Advance_MinuteEnds_RollsUpTheMeanOfItsSeconds()
    {
        for (var second = 0; second < 60; second++)
        {
            Record("shop-1", second + 1);
            Tick();
        }

        Assert.Equal([new MetricPoint(T0, 30.5)], Points(Metric.Requests, T0.AddHours(-2)));
        Assert.Equal([new MetricPoint(T0, 30.5)], Points(Metric.Requests, T0, step: TimeSpan.FromMinutes(1)));
    }

    [Fact]
    public void Advance_AfterAnHour_KeepsOnlyTheLastHourOfSecondsAndEveryMinute()
    {
        for (var second = 0; second < 3700; second++)
        {
            Record("shop-1", second < 100 ? 5 : 1);
            Tick();
        }

        var seconds = Points(Metric.Requests, _time.GetUtcNow().AddHours(-1));
        var minutes = Points(Metric.Requests, T0.AddHours(-1));

        Assert.Equal(3600, seconds.Count);
        Assert.All(seconds, p => Assert.Equal(1, p.Value));
        Assert.Equal(T0.AddSeconds(100), seconds[0].Time);
        Assert.Equal(61, minutes.Count);
        Assert.Equal(5, minutes[0].Value);
        Assert.Equal(((40 * 5) + (20 * 1)) / 60.0, minutes[1].Value, 5);
        Assert.Equal(1, minutes[^1].Value);
    }

    [Fact]
    public void Advance_AfterADay_ForgetsTheOldestMinutes()
    {
        Record("shop-1", 60);
        Tick(60);
        for (var minute = 0; minute < MetricStore.MinutesRetained; minute++)
        {
            Record("shop-1", 6);
            Tick(60);
        }

        var minutes = Points(Metric.Requests, T0.AddDays(-1));

        Assert.Equal(MetricStore.MinutesRetained, minutes.Count);
        Assert.Equal(T0.AddMinutes(1), minutes[0].Time);
        Assert.All(minutes, p => Assert.Equal(0.1, p.Value, 6));
    }

    [Fact]
    public void Advance_AfterADayAsleep_StartsOverWithoutTheOldSeries()
    {
        Record("shop-1", 6);
        Tick();

        _time.Advance(TimeSpan.FromDays(2));
        _store.Advance();

        Assert.Null(_store.Latest("shop", Metric.Requests));
        Assert.Empty(_store.Tasks("shop"));
    }

    [Fact]
    public void Percentile_TasksWithDifferentLatencies_MergeIntoTheService()
    {
        Record("shop-1", 90, milliseconds: 10);
        Record("shop-2", 10, milliseconds: 500);

        Tick();

        var window = TimeSpan.FromSeconds(1);
        AssertLatency(0.010, _store.Percentile("shop", 0.5, window));
        AssertLatency(0.010, _store.Percentile("shop", 0.9, window));
        AssertLatency(0.500, _store.Percentile("shop", 0.95, window));
        AssertLatency(0.010, _store.Percentile("shop", 0.99, window, "shop-1"));
        AssertLatency(0.500, _store.Percentile("shop", 0.5, window, "shop-2"));
    }

    [Fact]
    public void Percentile_OverAWindow_MergesItsSecondsAndIgnoresOlderOnes()
    {
        Record("shop-1", 100, milliseconds: 800);
        Tick(100);
        for (var second = 0; second < 10; second++)
        {
            Record("shop-1", 9, milliseconds: 5);
            Record("shop-1", 1, milliseconds: 200);
            Tick();
        }

        AssertLatency(0.005, _store.Percentile("shop", 0.9, TimeSpan.FromSeconds(10)));
        AssertLatency(0.200, _store.Percentile("shop", 0.91, TimeSpan.FromSeconds(10)));
        AssertLatency(0.800, _store.Percentile("shop", 0.99, TimeSpan.FromSeconds(110)));
    }

    [Fact]
    public void Percentile_WindowLongerThanAnHour_ReadsTheMinutes()
    {
        Record("shop-1", 50, milliseconds: 40);
        Tick(3 * 3600);

        Assert.Null(_store.Percentile("shop", 0.5, TimeSpan.FromHours(1)));
        AssertLatency(0.040, _store.Percentile("shop", 0.5, TimeSpan.FromHours(4)));
    }

    [Fact]
    public void Query_LatencyWithASteps_MergesEachStep()
    {
        for (var second = 0; second < 20; second++)
        {
            Record("shop-1", 1, milliseconds: second < 10 ? 10 : 100);
            Tick();
        }

        var points = Points(Metric.LatencyP99, T0, step: TimeSpan.FromSeconds(10));

        Assert.Equal([T0, T0.AddSeconds(10)], points.Select(p => p.Time));
        AssertLatency(0.010, points[0].Value);
        AssertLatency(0.100, points[1].Value);
    }

    [Fact]
    public void Query_StepOverARange_AveragesEachStepOnStepMultiples()
    {
        for (var second = 0; second < 30; second++)
        {
            Record("shop-1", (second % 10) + 1);
            Tick();
        }

        var points = Points(Metric.Requests, T0.AddSeconds(5), step: TimeSpan.FromSeconds(10));

        Assert.Equal([T0, T0.AddSeconds(10), T0.AddSeconds(20)], points.Select(p => p.Time));
        Assert.All(points, p => Assert.Equal(5.5, p.Value));
    }

    [Theory]
    [InlineData(0, 60, "whole number of seconds")]
    [InlineData(-7200, 10, "whole minutes")]
    public void TryQuery_BadStep_SaysWhy(int fromSeconds, double stepSeconds, string expected)
    {
        Tick();
        var query = new MetricQuery("shop", Metric.Requests, _time.GetUtcNow().AddSeconds(fromSeconds - 60), _time.GetUtcNow())
        {
            Step = stepSeconds == 60 ? TimeSpan.FromMilliseconds(1500) : TimeSpan.FromSeconds(stepSeconds),
        };

        Assert.False(_store.TryQuery(query, out _, out var error));
        Assert.Contains(expected, error, StringComparison.Ordinal);
    }

    [Fact]
    public void TryQuery_FromAfterTo_SaysWhy()
    {
        Assert.False(_store.TryQuery(new MetricQuery("shop", Metric.Requests, T0, T0.AddSeconds(-1)), out _, out var error));
        Assert.Contains("must be before", error, StringComparison.Ordinal);
    }

    [Fact]
    public void TryQuery_UnknownSeries_HasNoPoints()
    {
        Tick();

        Assert.Empty(Points(Metric.Requests, T0));
        Assert.Empty(Points(Metric.Custom("queue_depth"), T0));
    }

    [Fact]
    public void SetGauge_TasksSamples_AreTheirPointsAndSumIntoTheService()
    {
        _store.SetGauge("shop", "shop-1", Metric.InFlight, 2);
        _store.SetGauge("shop", "shop-2", Metric.InFlight, 3);
        _store.SetGauge("shop", "shop-1", Metric.Cpu, 12.5);
        _store.SetGauge("shop", "shop-1", Metric.Rss, 100e6);
        _store.SetGauge("shop", "shop-2", Metric.Rss, 50e6);

        Tick();

        Assert.Equal(5, _store.Latest("shop", Metric.InFlight)?.Value);
        Assert.Equal(3, _store.Latest("shop", Metric.InFlight, "shop-2")?.Value);
        Assert.Equal(12.5, _store.Latest("shop", Metric.Cpu)?.Value);
        Assert.Equal(150e6, _store.Latest("shop", Metric.Rss)?.Value);
    }

    [Fact]
    public void SetGauge_NotSampledSinceTheLastTick_HasNoPoint()
    {
        _store.SetGauge("shop", "shop-1", Metric.Cpu, 50);
        Tick();
        _store.SetGauge("shop", "shop-1", Metric.Cpu, 70);
        Tick(3);

        Assert.Equal([50.0, 70.0], Points(Metric.Cpu, T0).Select(p => p.Value));
        Assert.Equal(60, _store.Average("shop", Metric.Cpu, TimeSpan.FromSeconds(4)));
    }

    [Fact]
    public void SetGauge_NotAGauge_Throws() =>
        Assert.Throws<ArgumentException>(() => _store.SetGauge("shop", "shop-1", Metric.Requests, 1));

    [Fact]
    public void PutCustom_Values_HavePointsOnlyWherePushedAndTheLastInASecondWins()
    {
        var queueDepth = Metric.Custom("queue_depth");
        Assert.Null(_store.PutCustom("worker", "queue_depth", 5));
        Tick();
        Assert.Null(_store.PutCustom("worker", "queue_depth", 7));
        Assert.Null(_store.PutCustom("worker", "queue_depth", 9));
        Tick(5);

        Assert.Equal(new MetricPoint(T0.AddSeconds(1), 9), _store.Latest("worker", queueDepth));
        Assert.Equal(7, _store.Average("worker", queueDepth, TimeSpan.FromMinutes(1)));
        Assert.Contains(queueDepth, _store.Metrics("worker"));
    }

    [Fact]
    public void PutCustom_ForATask_IsASeriesOfItsOwn()
    {
        var queueDepth = Metric.Custom("queue_depth");
        _store.PutCustom("worker", "queue_depth", 3, "worker-1");
        _store.PutCustom("worker", "queue_depth", 4, "worker-2");

        Tick();

        Assert.Equal(3, _store.Latest("worker", queueDepth, "worker-1")?.Value);
        Assert.Equal(4, _store.Latest("worker", queueDepth, "worker-2")?.Value);
        Assert.Null(_store.Latest("worker", queueDepth));
    }

    [Fact]
    public void PutCustom_Refused_SaysWhy()
    {
        var store = new MetricStore(_time, new MetricStoreOptions { MaxCustomSeriesPerService = 2 });
        store.PutCustom("worker", "a", 1);
        store.PutCustom("worker", "b", 1);

        Assert.Contains("the most it may have", store.PutCustom("worker", "c", 1), StringComparison.Ordinal);
        Assert.Null(store.PutCustom("worker", "a", 2));
        Assert.Contains("finite", store.PutCustom("worker", "a", double.PositiveInfinity), StringComparison.Ordinal);
        Assert.Contains("built-in", store.PutCustom("worker", "cpu", 1), StringComparison.Ordinal);
    }

    [Fact]
    public void PutCustom_NoValueForADay_IsFreed()
    {
        _store.PutCustom("worker", "queue_depth", 5);
        Tick((24 * 3600) + 1);

        Assert.DoesNotContain(Metric.Custom("queue_depth"), _store.Metrics("worker"));
    }

    [Fact]
    public void TaskStopped_AfterTheRetention_FreesTheTaskButNotWhatTheServiceRecorded()
    {
        Record("shop-1", 60);
        Tick(60);
        _store.TaskStopped("shop", "shop-1");
        Tick(3599);
        Assert.Contains("shop-1", _store.Tasks("shop"));

        Tick();

        Assert.DoesNotContain("shop-1", _store.Tasks("shop"));
        Assert.Null(_store.Latest("shop", Metric.Requests, "shop-1"));
        Assert.Equal([new MetricPoint(T0, 1)], Points(Metric.Requests, T0.AddHours(-1)).Where(p => p.Value > 0));
    }

    [Fact]
    public void TaskStopped_MoreThanTheCap_FreesTheLongestStoppedFirst()
    {
        var store = new MetricStore(_time, new MetricStoreOptions { MaxStoppedTasksPerService = 2 });
        foreach (var task in new[] { "shop-1", "shop-2", "shop-3", "shop-4" })
        {
            store.SetGauge("shop", task, Metric.InFlight, 0);
        }

        foreach (var task in new[] { "shop-2", "shop-1", "shop-3" })
        {
            store.TaskStopped("shop", task);
            _time.Advance(TimeSpan.FromSeconds(1));
            store.Advance();
        }

        Assert.Equal(["shop-1", "shop-3", "shop-4"], store.Tasks("shop"));
    }

    [Fact]
    public void Advance_TaskSilentForTheRetention_IsFreedAsGone()
    {
        Record("shop-1", 1);
        Tick();
        Tick(3599);
        Assert.Equal(["shop-1"], _store.Tasks("shop"));

        Tick();

        Assert.Empty(_store.Tasks("shop"));
    }

    [Fact]
    public async Task RecordRequest_ManyThreadsWhileTicking_CountsEveryRequestExactlyOnce()
    {
        const int Threads = 8;
        const int PerThread = 50_000;
        var recorders = Enumerable.Range(0, Threads).Select(t => Task.Run(() =>
        {
            for (var i = 0; i < PerThread; i++)
            {
                _store.RecordRequest("shop", $"shop-{t % 4}", i % 10 == 0 ? 500 : 200, TimeSpan.FromMilliseconds(i % 100));
            }
        }, TestContext.Current.CancellationToken)).ToArray();
        var ticks = 0;
        while (!recorders.All(r => r.IsCompleted) && ticks < 3000)
        {
            Tick();
            ticks++;
        }

        await Task.WhenAll(recorders);
        Tick();

        var from = _time.GetUtcNow().AddHours(-1);
        Assert.Equal(Threads * PerThread, Points(Metric.Requests, from).Sum(p => p.Value));
        Assert.Equal(Threads * PerThread / 10, Points(Metric.Errors, from).Sum(p => p.Value));
        Assert.Equal(Threads * PerThread / 4, Points(Metric.Requests, from, task: "shop-2").Sum(p => p.Value));
    }

    [Fact]
    public void Metrics_AService_ListsTheBuiltInsThenItsCustomNames()
    {
        _store.PutCustom("worker", "queue_depth", 1, "worker-1");
        _store.PutCustom("worker", "backlog", 1);

        Assert.Equal(
            [.. Metric.BuiltIn.Select(m => m.Name), "backlog", "queue_depth"],
            _store.Metrics("worker").Select(m => m.Name));
    }
}
