using System.Collections.Concurrent;

namespace Flotilla.Core.Metrics;

/// <summary>
/// The fleet's recent history, read by the autoscaler, alarms and dashboard: for every service and task, requests/s,
/// errors/s, in-flight requests, latency percentiles, CPU and RSS, plus custom metrics pushed through the API. Each
/// series keeps one point per second for <see cref="SecondsRetained"/> seconds and one per minute for
/// <see cref="MinutesRetained"/> minutes, in rings allocated once, so its memory does not grow with time.
/// </summary>
/// <remarks>
/// <para>
/// Time is whole Unix seconds from the injected <see cref="TimeProvider"/>. What is recorded accumulates until
/// <see cref="Advance"/> — the shell's tick, once a second — closes every second that has ended: it turns counters
/// into rates, writes the gauges sampled since the previous tick, and when a minute ends, rolls it up. Queries only
/// ever see closed seconds, so a point never changes once read.
/// </para>
/// <para>
/// <see cref="RecordRequest"/> runs on the load balancer's hot path from many threads: it takes no lock and allocates
/// nothing once a task's series exists. Everything else — the tick, gauges, custom metrics and queries — serialises on
/// one lock that the tick holds for well under a millisecond a second.
/// </para>
/// </remarks>
public sealed class MetricStore
{
    /// <summary>Per-second points kept per series: one hour.</summary>
    public const int SecondsRetained = 3600;

    /// <summary>Per-minute points kept per series: one day.</summary>
    public const int MinutesRetained = 1440;

    /// <summary>After a pause this long (a suspended laptop) nothing retained is recent enough to keep.</summary>
    private const long MaxCatchUpSeconds = (MinutesRetained + 1) * 60L;

    private readonly ConcurrentDictionary<string, ServiceSeries> _services = new(StringComparer.Ordinal);
    private readonly Lock _lock = new();
    private readonly long[] _taskLatency = new long[LatencyBuckets.Count];
    private readonly long[] _serviceLatency = new long[LatencyBuckets.Count];
    private readonly TimeProvider _time;
    private readonly MetricStoreOptions _options;
    private long _closedThrough;

    /// <summary>A store whose first second is the one <paramref name="time"/> is in now.</summary>
    public MetricStore(TimeProvider time, MetricStoreOptions? options = null)
    {
        _time = time;
        _options = options ?? new MetricStoreOptions();
        _closedThrough = _time.GetUtcNow().ToUnixTimeSeconds() - 1;
    }

    /// <summary>The second being recorded into, which the next tick will close.</summary>
    private long OpenSecond => Volatile.Read(ref _closedThrough) + 1;

    /// <summary>
    /// Counts one request answered for <paramref name="service"/> by task <paramref name="taskId"/>. A null task means
    /// the load balancer answered itself (say, 503 for no healthy task): the request counts, its latency does not.
    /// An error is a 5xx, or a status below 100 for a request that got no response at all; YARP already answers 502 or
    /// 504 for transport failures, so those count either way. An empty service (no rule matched) is not recorded.
    /// </summary>
    public void RecordRequest(string service, string? taskId, int statusCode, TimeSpan latency)
    {
        if (service.Length == 0)
        {
            return;
        }

        var series = Service(service);
        var isError = statusCode is >= 500 or < 100;
        if (taskId is null)
        {
            series.Unattributed.Record(isError, bucket: -1);
        }
        else
        {
            series.Task(taskId, OpenSecond).Counters.Record(isError, LatencyBuckets.IndexOf(latency));
        }
    }

    /// <summary>
    /// Samples a task's <see cref="Metric.InFlight"/>, <see cref="Metric.Cpu"/> or <see cref="Metric.Rss"/>; the last
    /// value set before a tick becomes the point of the second it closes, and the service's point is the sum of its tasks'.
    /// </summary>
    public void SetGauge(string service, string taskId, Metric metric, double value)
    {
        if (!double.IsFinite(value))
        {
            throw new ArgumentOutOfRangeException(nameof(value), value, "a gauge is a finite number");
        }

        lock (_lock)
        {
            var task = Service(service).Task(taskId, OpenSecond);
            switch (metric.Kind)
            {
                case MetricKind.InFlight:
                    task.InFlight = value;
                    break;
                case MetricKind.Cpu:
                    task.Cpu = value;
                    break;
                case MetricKind.Rss:
                    task.Rss = value;
                    break;
                default:
                    throw new ArgumentException($"{metric.Name} is not a sampled gauge; only in_flight, cpu and rss are", nameof(metric));
            }
        }
    }

    /// <summary>
    /// Stores a pushed value of a custom metric, for the service or for one of its tasks (the two are separate series).
    /// A point exists only for the seconds in which a value was pushed; the last push in a second wins.
    /// </summary>
    /// <returns>Null, or why the value was refused: a bad name, a value that is not finite, too many series.</returns>
    public string? PutCustom(string service, string name, double value, string? taskId = null)
    {
        if (Metric.CustomNameError(name) is { } nameError)
        {
            return nameError;
        }

        if (!double.IsFinite(value))
        {
            return $"value must be a finite number, got {value}";
        }

        lock (_lock)
        {
            var series = Service(service);
            if (!series.Custom.TryGetValue((name, taskId), out var custom))
            {
                if (series.Custom.Count >= _options.MaxCustomSeriesPerService)
                {
                    return $"service {service} already has {series.Custom.Count} custom metric series, the most it may have; "
                        + "reuse a name, or let unused series expire (a day after their last value)";
                }

                custom = new CustomSeries(OpenSecond);
                series.Custom.Add((name, taskId), custom);
            }

            custom.Pending = value;
            custom.LastPushed = OpenSecond;
            return null;
        }
    }

    /// <summary>
    /// Tells the store a task has stopped. Its series stay readable for <see cref="MetricStoreOptions.StoppedTaskRetention"/>,
    /// for at most <see cref="MetricStoreOptions.MaxStoppedTasksPerService"/> stopped tasks per service, then are freed;
    /// the service's own series keep what the task contributed.
    /// </summary>
    public void TaskStopped(string service, string taskId)
    {
        lock (_lock)
        {
            if (_services.TryGetValue(service, out var series) && series.Tasks.TryGetValue(taskId, out var task))
            {
                task.StoppedAt ??= _closedThrough;
            }
        }
    }

    /// <summary>
    /// Closes every second that has ended since the last call, rolls up every minute that has ended, and frees expired
    /// series. The shell calls it once a second, just after the second turns; calling it late loses nothing.
    /// </summary>
    public void Advance()
    {
        lock (_lock)
        {
            var newest = _time.GetUtcNow().ToUnixTimeSeconds() - 1;
            var elapsed = newest - _closedThrough;
            if (elapsed <= 0)
            {
                return;
            }

            if (elapsed > MaxCatchUpSeconds)
            {
                // Every slot of every ring is older than the retention: start over rather than write a day of gaps.
                _services.Clear();
            }

            // Enumerating a ConcurrentDictionary directly takes none of its locks, unlike .Values, which would stall the
            // hot path's first request of a new task while it copies.
            foreach (var (_, service) in _services)
            {
                Close(service, Math.Max(newest - MaxCatchUpSeconds + 1, _closedThrough + 1), newest, elapsed);
            }

            Volatile.Write(ref _closedThrough, newest);
            Evict(newest);
        }
    }

    /// <summary>The newest point of a series: its last closed second with data, or failing that its last minute.</summary>
    public MetricPoint? Latest(string service, Metric metric, string? taskId = null)
    {
        lock (_lock)
        {
            if (Find(service, metric, taskId) is not { } history)
            {
                return null;
            }

            var newest = _closedThrough;
            for (var second = newest; second > newest - SecondsRetained; second--)
            {
                if (history.Summarize(Resolution.Second, second, second + 1) is { } value)
                {
                    return new MetricPoint(TimeOf(second, Resolution.Second), value);
                }
            }

            var newestMinute = NewestMinute(newest);
            for (var minute = newestMinute; minute > newestMinute - MinutesRetained; minute--)
            {
                if (history.Summarize(Resolution.Minute, minute, minute + 1) is { } value)
                {
                    return new MetricPoint(TimeOf(minute, Resolution.Minute), value);
                }
            }

            return null;
        }
    }

    /// <summary>
    /// A metric over the last <paramref name="window"/> of closed seconds: the mean of its points, or for a latency
    /// percentile the percentile of the window's merged histogram. Windows over an hour are read from the minutes and
    /// end with the last whole minute. Null when the window has no data.
    /// </summary>
    public double? Average(string service, Metric metric, TimeSpan window, string? taskId = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(window, TimeSpan.Zero);
        lock (_lock)
        {
            var seconds = (long)Math.Ceiling(window.TotalSeconds);
            var newest = _closedThrough;
            var history = Find(service, metric, taskId);
            if (seconds <= SecondsRetained)
            {
                return history?.Summarize(Resolution.Second, newest - seconds + 1, newest + 1);
            }

            var minutes = Math.Min((seconds + 59) / 60, MinutesRetained);
            var newestMinute = NewestMinute(newest);
            return history?.Summarize(Resolution.Minute, newestMinute - minutes + 1, newestMinute + 1);
        }
    }

    /// <summary>The <paramref name="quantile"/> of latency over the last <paramref name="window"/>, in seconds: see <see cref="Average"/>.</summary>
    public double? Percentile(string service, double quantile, TimeSpan window, string? taskId = null) =>
        Average(service, Metric.Latency(quantile), window, taskId);

    /// <summary>
    /// What a group of a service's tasks did over the last <paramref name="window"/> of closed seconds (at most an hour):
    /// requests, errors, and the <paramref name="quantile"/> of their latencies from their merged histograms — so that
    /// a canary's tasks can be held against the stable ones over the same seconds.
    /// </summary>
    public GroupFigures Group(string service, IEnumerable<string> taskIds, TimeSpan window, double quantile)
    {
        lock (_lock)
        {
            var seconds = Math.Min((long)Math.Ceiling(window.TotalSeconds), SecondsRetained);
            var to = _closedThrough + 1;
            var from = to - seconds;
            double requests = 0, errors = 0;
            Span<long> merged = stackalloc long[LatencyBuckets.Count];
            merged.Clear();
            if (_services.TryGetValue(service, out var series))
            {
                foreach (var id in taskIds)
                {
                    if (series.Tasks.GetValueOrDefault(id)?.History is { } history)
                    {
                        var (r, e) = history.Totals(from, to);
                        requests += r;
                        errors += e;
                        history.AddLatencyTo(from, to, merged);
                    }
                }
            }

            return new GroupFigures((long)Math.Round(requests), (long)Math.Round(errors), LatencyBuckets.Quantile(merged, quantile));
        }
    }

    /// <summary>Reads a range of points; false, with the reason, when the range or the step cannot be served.</summary>
    public bool TryQuery(MetricQuery query, out MetricRange range, out string error)
    {
        range = new MetricRange(TimeSpan.Zero, []);
        error = "";
        if (query.From >= query.To)
        {
            error = $"from ({query.From:O}) must be before to ({query.To:O})";
            return false;
        }

        if (query.Step is { } requested && (requested < TimeSpan.FromSeconds(1) || requested.Ticks % TimeSpan.TicksPerSecond != 0))
        {
            error = $"step must be a whole number of seconds, at least 1s; got {Durations.Format(requested)}";
            return false;
        }

        lock (_lock)
        {
            var newest = _closedThrough;
            var fromSecond = query.From.ToUnixTimeSeconds();
            var resolution = fromSecond > newest - SecondsRetained ? Resolution.Second : Resolution.Minute;
            var slotSeconds = (long)resolution;
            var stepSeconds = (long?)query.Step?.TotalSeconds ?? slotSeconds;
            if (stepSeconds % slotSeconds != 0)
            {
                error = $"points older than {SecondsRetained / 60}m are kept per minute, so step must be whole minutes when from is that old; got {Durations.Format(query.Step!.Value)}";
                return false;
            }

            var step = stepSeconds / slotSeconds;
            var (oldest, newestSlot) = resolution == Resolution.Second
                ? (newest - SecondsRetained + 1, newest)
                : (NewestMinute(newest) - MinutesRetained + 1, NewestMinute(newest));
            var from = Math.Max(Slots.FloorDiv(fromSecond, slotSeconds), oldest);
            var toSecond = Slots.FloorDiv(query.To.ToUnixTimeMilliseconds() + 999, 1000);
            var to = Math.Min(Slots.FloorDiv(toSecond + slotSeconds - 1, slotSeconds), newestSlot + 1);

            // Points sit on multiples of the step and each summarises its whole step, so a point reads the same whatever
            // range asked for it: a dashboard that slides its window does not see old points change.
            var points = new List<MetricPoint>();
            if (Find(query.Service, query.Metric, query.Task) is { } history)
            {
                for (var start = Slots.FloorDiv(from, step) * step; start < to; start += step)
                {
                    if (history.Summarize(resolution, Math.Max(start, oldest), Math.Min(start + step, newestSlot + 1)) is { } value)
                    {
                        points.Add(new MetricPoint(TimeOf(start, resolution), value));
                    }
                }
            }

            range = new MetricRange(TimeSpan.FromSeconds(stepSeconds), points);
            return true;
        }
    }

    /// <summary>The metrics a service has: the built-in ones, then its custom ones (its tasks' included) by name.</summary>
    public IReadOnlyList<Metric> Metrics(string service)
    {
        lock (_lock)
        {
            var custom = _services.TryGetValue(service, out var series)
                ? series.Custom.Keys.Select(k => k.Name).Distinct().Order(StringComparer.Ordinal).Select(Metric.Custom)
                : [];
            return [.. Metric.BuiltIn, .. custom];
        }
    }

    /// <summary>The tasks of a service that have series, running or recently stopped, or with custom metrics, by id.</summary>
    public IReadOnlyList<string> Tasks(string service)
    {
        lock (_lock)
        {
            return _services.TryGetValue(service, out var series)
                ? [.. series.Tasks.Keys.Concat(series.Custom.Keys.Select(k => k.Task).OfType<string>()).Distinct().Order(StringComparer.Ordinal)]
                : [];
        }
    }

    private ServiceSeries Service(string name) =>
        _services.GetOrAdd(name, static (name, now) => new ServiceSeries(name, now), OpenSecond);

    /// <summary>
    /// Closes seconds [<paramref name="first"/>, <paramref name="last"/>] of a service and its tasks; what was counted
    /// was counted over <paramref name="elapsed"/> seconds.
    /// </summary>
    private void Close(ServiceSeries service, long first, long last, long elapsed)
    {
        var serviceLatency = _serviceLatency.AsSpan();
        serviceLatency.Clear();
        long requests = 0;
        long errors = 0;
        double inFlight = double.NaN, cpu = double.NaN, rss = double.NaN;
        var active = false;
        foreach (var (_, task) in service.Tasks)
        {
            var taskLatency = _taskLatency.AsSpan();
            taskLatency.Clear();
            var (taskRequests, taskErrors) = task.Counters.Drain(taskLatency);
            var sample = new SecondSample(taskRequests / (double)elapsed, taskErrors / (double)elapsed, task.InFlight, task.Cpu, task.Rss);
            task.InFlight = task.Cpu = task.Rss = double.NaN;
            (task.History ??= new BuiltInHistory()).Write(first, last, sample, taskLatency);

            if (taskRequests > 0 || !double.IsNaN(sample.InFlight) || !double.IsNaN(sample.Cpu) || !double.IsNaN(sample.Rss))
            {
                task.LastActive = last;
                active = true;
            }

            requests += taskRequests;
            errors += taskErrors;
            inFlight = SumOfPresent(inFlight, sample.InFlight);
            cpu = SumOfPresent(cpu, sample.Cpu);
            rss = SumOfPresent(rss, sample.Rss);
            for (var i = 0; i < serviceLatency.Length; i++)
            {
                serviceLatency[i] += taskLatency[i];
            }
        }

        var (answeredByProxy, proxyErrors) = service.Unattributed.Drain(default);
        requests += answeredByProxy;
        errors += proxyErrors;
        var serviceSample = new SecondSample(requests / (double)elapsed, errors / (double)elapsed, inFlight, cpu, rss);
        (service.History ??= new BuiltInHistory()).Write(first, last, serviceSample, serviceLatency);

        foreach (var custom in service.Custom.Values)
        {
            for (var second = first; second <= last; second++)
            {
                custom.History.Write(second, second == last ? custom.Pending : double.NaN);
            }

            custom.Pending = double.NaN;
        }

        if (active || answeredByProxy > 0)
        {
            service.LastActive = last;
        }
    }

    /// <summary>Frees what has expired: stopped (or silent) tasks, custom series without a value for a day, idle services.</summary>
    private void Evict(long now)
    {
        var taskRetention = (long)_options.StoppedTaskRetention.TotalSeconds;
        const long DataRetention = MinutesRetained * 60L;
        foreach (var (_, service) in _services)
        {
            // A task never reported stopped but silent for as long (no request, no sample) is gone as far as the store
            // can tell: this also frees a series a late request re-created after its task was freed.
            foreach (var (_, task) in service.Tasks)
            {
                if ((task.StoppedAt ?? task.LastActive) <= now - taskRetention)
                {
                    service.Tasks.TryRemove(task.Id, out _);
                }
            }

            var stopped = service.Tasks.Select(t => t.Value).Where(t => t.StoppedAt is not null).ToList();
            foreach (var task in stopped.OrderBy(t => t.StoppedAt).Take(stopped.Count - _options.MaxStoppedTasksPerService))
            {
                service.Tasks.TryRemove(task.Id, out _);
            }

            foreach (var (key, custom) in service.Custom)
            {
                if (custom.LastPushed <= now - DataRetention)
                {
                    service.Custom.Remove(key);
                }
            }

            if (service.Tasks.IsEmpty && service.Custom.Count == 0 && service.LastActive <= now - DataRetention)
            {
                _services.TryRemove(service.Name, out _);
            }
        }
    }

    private IMetricHistory? Find(string service, Metric metric, string? taskId)
    {
        if (!_services.TryGetValue(service, out var series))
        {
            return null;
        }

        if (metric.Kind == MetricKind.Custom)
        {
            return series.Custom.GetValueOrDefault((metric.Name, taskId))?.History;
        }

        var history = taskId is null ? series.History : series.Tasks.GetValueOrDefault(taskId)?.History;
        return history?.For(metric);
    }

    private static double SumOfPresent(double total, double value) =>
        double.IsNaN(value) ? total : double.IsNaN(total) ? value : total + value;

    /// <summary>The last minute whose every second is closed.</summary>
    private static long NewestMinute(long newestSecond) => Slots.MinuteOf(newestSecond + 1) - 1;

    private static DateTimeOffset TimeOf(long slot, Resolution resolution) => DateTimeOffset.FromUnixTimeSeconds(slot * (long)resolution);
}
