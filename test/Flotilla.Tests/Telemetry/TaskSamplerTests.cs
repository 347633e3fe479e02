using Flotilla.Core.Metrics;
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
        _running.Add(new RunningTask("shop", "shop-1", Pid: 41, InFlight: 3));
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
    public void Sample_ProcessGoneBeforeItsRead_SamplesNothingForIt()
    {
        _running.Add(new RunningTask("shop", "shop-1", 41, InFlight: 0));

        SampleAndTick();

        Assert.Null(_store.Latest("shop", Metric.Rss, "shop-1"));
        Assert.Equal(0, _store.Latest("shop", Metric.InFlight, "shop-1")?.Value);
    }
}
