using System.Collections.Concurrent;

namespace Flotilla.Core.Metrics;

/// <summary>
/// What the load balancer's hot path writes for one task (or a service's requests that reached no task): cumulative
/// counts, added to with <see cref="Interlocked"/> and never reset.
/// </summary>
/// <remarks>
/// Like Prometheus counters, they only go up: the store's tick turns them into per-second values by subtracting what
/// it saw last time, so an increment racing with the tick lands in this second or the next and is never lost, and a
/// request takes no lock. The request count is incremented last and read first: a tick that sees no new request can
/// skip the histogram, since any increment it would find there is counted again, with its request, next second.
/// </remarks>
internal sealed class RequestCounters(bool withLatency)
{
    private readonly long[] _latency = withLatency ? new long[LatencyBuckets.Count] : [];
    private readonly long[] _latencySeen = withLatency ? new long[LatencyBuckets.Count] : [];
    private long _requests;
    private long _errors;
    private long _requestsSeen;
    private long _errorsSeen;

    /// <summary>Counts one request; <paramref name="bucket"/> is its latency bucket, or -1 if it has none.</summary>
    public void Record(bool isError, int bucket)
    {
        if (bucket >= 0)
        {
            Interlocked.Increment(ref _latency[bucket]);
        }

        if (isError)
        {
            Interlocked.Increment(ref _errors);
        }

        Interlocked.Increment(ref _requests);
    }

    /// <summary>The requests and errors counted since the last call; adds their latency counts to <paramref name="latency"/>.</summary>
    public (long Requests, long Errors) Drain(Span<long> latency)
    {
        var requests = Volatile.Read(ref _requests);
        if (requests == _requestsSeen)
        {
            return (0, 0);
        }

        var errors = Volatile.Read(ref _errors);
        var result = (requests - _requestsSeen, errors - _errorsSeen);
        _requestsSeen = requests;
        _errorsSeen = errors;
        for (var i = 0; i < _latency.Length; i++)
        {
            var count = Volatile.Read(ref _latency[i]);
            latency[i] += count - _latencySeen[i];
            _latencySeen[i] = count;
        }

        return result;
    }
}

/// <summary>One task's series. The hot path creates it with its counters only; the tick allocates its history.</summary>
internal sealed class TaskSeries(string id, long createdAt)
{
    public string Id { get; } = id;

    public RequestCounters Counters { get; } = new(withLatency: true);

    public BuiltInHistory? History { get; set; }

    /// <summary>Gauges set since the last tick (NaN: not sampled), written into the second the tick closes.</summary>
    public double InFlight { get; set; } = double.NaN;

    public double Cpu { get; set; } = double.NaN;

    public double Rss { get; set; } = double.NaN;

    /// <summary>If it was reported stopped, the last second closed before that.</summary>
    public long? StoppedAt { get; set; }

    /// <summary>The last second in which it was sampled or answered a request.</summary>
    public long LastActive { get; set; } = createdAt;
}

/// <summary>One pushed metric of a service, or of one of its tasks.</summary>
internal sealed class CustomSeries(long createdAt)
{
    public ScalarHistory History { get; } = new();

    /// <summary>The value pushed since the last tick (NaN: none); the last push in a second wins.</summary>
    public double Pending { get; set; } = double.NaN;

    public long LastPushed { get; set; } = createdAt;
}

/// <summary>One service: its tasks, its own aggregate history, and its custom metrics.</summary>
internal sealed class ServiceSeries(string name, long createdAt)
{
    public string Name { get; } = name;

    public ConcurrentDictionary<string, TaskSeries> Tasks { get; } = new(StringComparer.Ordinal);

    /// <summary>Requests the load balancer answered itself (no healthy task): they count as requests and errors, without latency.</summary>
    public RequestCounters Unattributed { get; } = new(withLatency: false);

    public BuiltInHistory? History { get; set; }

    /// <summary>Keyed by name and task (null for the service's own); guarded by the store's lock.</summary>
    public Dictionary<(string Name, string? Task), CustomSeries> Custom { get; } = [];

    /// <summary>The last second in which anything of it was recorded.</summary>
    public long LastActive { get; set; } = createdAt;

    public TaskSeries Task(string id, long now) => Tasks.GetOrAdd(id, static (id, now) => new TaskSeries(id, now), now);
}
