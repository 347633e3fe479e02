using Flotilla.Core.Metrics;

namespace Flotilla.Telemetry;

/// <summary>A task running now, as the metrics sampler needs to know it: its process, and its requests in flight if known.</summary>
internal readonly record struct RunningTask(string Service, string TaskId, int Pid, int? InFlight = null);

/// <summary>
/// Samples each running task's gauges into the <see cref="MetricStore"/>: CPU % and RSS of its process, and its
/// in-flight requests. CPU % needs two readings, so a task's first second has none. A task that has left the running
/// list is reported stopped, so the store can free its series in time.
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

    public void Sample()
    {
        _current.Clear();
        foreach (var task in runningTasks())
        {
            if (task.InFlight is { } inFlight)
            {
                store.SetGauge(task.Service, task.TaskId, Metric.InFlight, inFlight);
            }

            var process = readProcess(task.Pid);
            var now = time.GetTimestamp();
            _current[task.TaskId] = new Reading(task.Service, task.Pid, process?.CpuTicks, now);
            if (process is not { } sample)
            {
                // Exited between the listing and the read: the scheduler will notice; nothing to sample.
                continue;
            }

            store.SetGauge(task.Service, task.TaskId, Metric.Rss, sample.RssBytes);
            if (_previous.TryGetValue(task.TaskId, out var before) && before.Pid == task.Pid && before.CpuTicks is { } ticksBefore)
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

    private readonly record struct Reading(string Service, int Pid, long? CpuTicks, long Timestamp);
}
