using Flotilla.Core.Metrics;
using Flotilla.Proxy.Targets;
using Flotilla.Telemetry;
using Microsoft.Extensions.Time.Testing;

namespace Flotilla.Tests.Telemetry;

public sealed class TaskSamplerTests
{
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 11, 22, 10, 0, 0, TimeSpan.Zero));
    private readonly Dictionary<int, ProcessSample> _processes = [];
    private readonly List<RunningTask> _running = [];
    private readonly MetricStore _store;
    private readonly TaskSampler _sampler;

    public TaskSamplerTests()
    {
        _store = new MetricStore(_time);
        _sampler = new TaskSampler(_store, () => _running, pid => _processes.TryGetValue(pid, out var p) ? p : null, _time, clockTicksPerSecond: 100);
    }

    private void SampleAndTick()
    {
        _sampler.Sample();
        _time.Advance(TimeSpan.FromSeconds(1));
        _store.Advance();
    }

    [Fact]
    public void Sample_TwoReadingsOfATask_GiveItsCpuRssAndInFlight()
    {
        _running.Add(new RunningTask("shop", "shop-1", Pid: 41, InFlight: new InFlightReading(Now: 3, BusyTicks: 0, Timestamp: 0)));
        _processes[41] = new ProcessSample(CpuTicks: 1000, RssBytes: 80_000_000);
        SampleAndTick();
        _processes[41] = new ProcessSample(CpuTicks: 1025, RssBytes: 90_000_000);

        SampleAndTick();

        Assert.Equal(25, _store.Latest("shop", Metric.Cpu, "shop-1")?.Value);
        Assert.Equal(90_000_000, _store.Latest("shop", Metric.Rss, "shop-1")?.Value);
        Assert.Equal(3, _store.Latest("shop", Metric.InFlight)?.Value);
    }

    [Fact]
    public void Sample_FirstReading_HasNoCpuYet()
    {
        _running.Add(new RunningTask("shop", "shop-1", 41));
        _processes[41] = new ProcessSample(1000, 80_000_000);

        SampleAndTick();

        Assert.Null(_store.Latest("shop", Metric.Cpu, "shop-1"));
        Assert.NotNull(_store.Latest("shop", Metric.Rss, "shop-1"));
    }

    [Fact]
    public void Sample_TaskRestartedWithANewPid_StartsItsCpuAfresh()
    {
        _running.Add(new RunningTask("shop", "shop-1", 41));
        _processes[41] = new ProcessSample(5000, 1);
        SampleAndTick();
        _running[0] = new RunningTask("shop", "shop-1", 42);
        _processes[42] = new ProcessSample(10, 1);

        SampleAndTick();

        Assert.Null(_store.Latest("shop", Metric.Cpu, "shop-1"));
    }

    [Fact]
    public void Sample_TaskNoLongerRunning_IsReportedStoppedAndFreedAfterTheRetention()
    {
        _running.Add(new RunningTask("shop", "shop-1", 41));
        _processes[41] = new ProcessSample(0, 1);
        SampleAndTick();
        _running.Clear();

        for (var second = 0; second < 3600; second++)
        {
            SampleAndTick();
        }

        Assert.Empty(_store.Tasks("shop"));
    }

    [Fact]
    public void Sample_InFlight_IsTheMeanOverTheSecondSinceTheLastSample_NotTheNumberAtTheInstant()
    {
        var target = new Target("shop-1", "shop", 1, 4000, _time.GetTimestamp(), TimeSpan.Zero, _time.TimestampFrequency);
        _running.Add(default); // replaced by a fresh reading at each sample below
        _processes[41] = new ProcessSample(1000, 1);
        void Read() => _running[0] = new RunningTask("shop", "shop-1", 41, InFlightReading.Of(target, _time.GetTimestamp()));
        Read();
        _sampler.Sample();

        // 8 requests for 700 ms of the second until the next sample, none at its end: 5.6 in flight on average, 0 at the instant.
        for (var i = 0; i < 8; i++)
        {
            target.RequestStarted(_time.GetTimestamp());
        }

        _time.Advance(TimeSpan.FromMilliseconds(700));
        for (var i = 0; i < 8; i++)
        {
            target.RequestEnded(_time.GetTimestamp());
        }

        _time.Advance(TimeSpan.FromMilliseconds(300));
        _store.Advance();
        Read();
        SampleAndTick();

        Assert.Equal(0, target.InFlight);
        Assert.Equal(5.6, _store.Latest("shop", Metric.InFlight, "shop-1")?.Value ?? double.NaN, precision: 5);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Sample_ATargetMadeSinceTheLastSample_CountsItsBusyTimeOverTheWholeInterval_SoTasksAddUpToTheService(bool listedBeforeItWasInService)
    {
        // shop-1 carries 8 requests for the first half of the second, then a new task takes 4 of them: 8 × 0.5 + 4 × 0.5
        // = 6 on shop-1 and 4 × 0.5 = 2 on shop-2, 8 in all — not shop-1's 6 plus shop-2's 4 at the instant. Whether
        // shop-2 was already running (listed, but without a target and so without an in-flight reading) at the last
        // sample, or not started yet, makes no difference.
        var first = new Target("shop-1", "shop", 1, 4000, _time.GetTimestamp(), TimeSpan.Zero, _time.TimestampFrequency);
        _processes[41] = new ProcessSample(1000, 1);
        _processes[42] = new ProcessSample(1000, 1);
        for (var i = 0; i < 8; i++)
        {
            first.RequestStarted(_time.GetTimestamp());
        }

        _running.Add(new RunningTask("shop", "shop-1", 41, InFlightReading.Of(first, _time.GetTimestamp())));
        if (listedBeforeItWasInService)
        {
            _running.Add(new RunningTask("shop", "shop-2", 42));
        }

        _sampler.Sample();
        _time.Advance(TimeSpan.FromMilliseconds(500));
        var second = new Target("shop-2", "shop", 1, 4001, _time.GetTimestamp(), TimeSpan.Zero, _time.TimestampFrequency);
        for (var i = 0; i < 4; i++)
        {
            first.RequestEnded(_time.GetTimestamp());
            second.RequestStarted(_time.GetTimestamp());
        }

        _time.Advance(TimeSpan.FromMilliseconds(500));
        _store.Advance();
        _running[0] = new RunningTask("shop", "shop-1", 41, InFlightReading.Of(first, _time.GetTimestamp()));
        _running.RemoveAll(t => t.TaskId == "shop-2");
        _running.Add(new RunningTask("shop", "shop-2", 42, InFlightReading.Of(second, _time.GetTimestamp())));
        SampleAndTick();

        Assert.Equal(6, _store.Latest("shop", Metric.InFlight, "shop-1")?.Value ?? double.NaN, precision: 5);
        Assert.Equal(2, _store.Latest("shop", Metric.InFlight, "shop-2")?.Value ?? double.NaN, precision: 5);
        Assert.Equal(8, _store.Latest("shop", Metric.InFlight)?.Value ?? double.NaN, precision: 5);
    }

    [Fact]
    public void Sample_ProcessGoneBeforeItsRead_SamplesNothingForIt()
    {
        _running.Add(new RunningTask("shop", "shop-1", 41, InFlight: new InFlightReading(Now: 0, BusyTicks: 0, Timestamp: 0)));

        SampleAndTick();

        Assert.Null(_store.Latest("shop", Metric.Rss, "shop-1"));
        Assert.Equal(0, _store.Latest("shop", Metric.InFlight, "shop-1")?.Value);
    }
}
