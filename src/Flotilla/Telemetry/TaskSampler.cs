using Flotilla.Core.Metrics;
using Flotilla.Proxy.Targets;

namespace Flotilla.Telemetry;

/// <summary>A task running now, as the metrics sampler needs to know it: its process, and its requests in flight if known.</summary>
internal readonly record struct RunningTask(string Service, string TaskId, int Pid, InFlightReading? InFlight = null);

/// <summary>
/// A task's requests in flight as read at <see cref="Timestamp"/>: how many <see cref="Now"/>, and the request-time it
/// has served so far (<see cref="Target.BusyTicks"/>), whose growth between two readings gives the mean in between.
/// </summary>
internal readonly record struct InFlightReading(int Now, long BusyTicks, long Timestamp)
{
    public static InFlightReading Of(Target target, long timestamp) => new(target.InFlight, target.BusyTicks(timestamp), timestamp);

    /// <summary>The mean number in flight since <paramref name="earlier"/>, or <see cref="Now"/> without a usable earlier reading.</summary>
    /// <param name="earlier">The previous reading of the same target; for a target made since the last sample (a task not
    /// listed then, or listed but not yet in service and so without a target), a reading of 0 at that sample — its busy
    /// time starts at 0 when it is made — so that the tasks' means cover the same interval and add up to the service's.
    /// Reading such a target's <see cref="Now"/> instead would count the requests it took over from the other tasks twice:
    /// once in their means, and again at the instant.</param>
    public double MeanSince(InFlightReading? earlier) =>
        earlier is { } before && Timestamp > before.Timestamp && BusyTicks >= before.BusyTicks
            ? (double)(BusyTicks - before.BusyTicks) / (Timestamp - before.Timestamp)
            : Now;
}

/// <summary>
/// Samples each running task's gauges into the <see cref="MetricStore"/>: CPU % and RSS of its process, and its
/// in-flight requests — their mean over the time since the last sample, not a reading at one instant, which would miss
/// or catch bursts by chance (only the very first sample, with nothing before it, reads the instant). CPU % needs two
/// readings, so a task's first second has none. A task that has left the running list is reported stopped, so the
/// store can free its series in time.
/// </summary>
internal sealed class TaskSampler(
    MetricStore store,
    Func<IEnumerable<RunningTask>> runningTasks,
    Func<int, ProcessSample?> readProcess,
    TimeProvider time,
    long clockTicksPerSecond)
{
    private Dictionary<string, Reading> _previous = new(StringComparer.Ordinal);
    private Dictionary<string, Reading> _current = new(StringComparer.Ordinal);
    private long? _lastSample;

    public void Sample()
    {
        _current.Clear();
        var sinceLastSample = _lastSample is { } last ? new InFlightReading(0, 0, last) : (InFlightReading?)null;
        _lastSample = time.GetTimestamp();
        foreach (var task in runningTasks())
        {
            var had = _previous.TryGetValue(task.TaskId, out var before);
            if (task.InFlight is { } inFlight)
            {
                // No earlier in-flight reading (not listed then, or listed without a target): its target is newer than the last sample.
                store.SetGauge(task.Service, task.TaskId, Metric.InFlight, inFlight.MeanSince(before.InFlight ?? sinceLastSample));
            }

            var process = readProcess(task.Pid);
            var now = time.GetTimestamp();
            _current[task.TaskId] = new Reading(task.Service, task.Pid, process?.CpuTicks, now, task.InFlight);
            if (process is not { } sample)
            {
                // Exited between the listing and the read: the scheduler will notice; nothing to sample.
                continue;
            }

            store.SetGauge(task.Service, task.TaskId, Metric.Rss, sample.RssBytes);
            if (had && before.Pid == task.Pid && before.CpuTicks is { } ticksBefore)
            {
                var elapsed = time.GetElapsedTime(before.Timestamp, now);
                if (elapsed > TimeSpan.Zero)
                {
                    store.SetGauge(task.Service, task.TaskId, Metric.Cpu, ProcFs.CpuPercent(ticksBefore, sample.CpuTicks, elapsed, clockTicksPerSecond));
                }
            }
        }

        foreach (var (taskId, before) in _previous)
        {
            if (!_current.ContainsKey(taskId))
            {
                store.TaskStopped(before.Service, taskId);
            }
        }

        (_previous, _current) = (_current, _previous);
    }

    private readonly record struct Reading(string Service, int Pid, long? CpuTicks, long Timestamp, InFlightReading? InFlight);
}
