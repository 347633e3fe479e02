namespace Flotilla.Core.Metrics;

/// <summary>One point of a series: the metric over the interval starting at <see cref="Time"/>.</summary>
public readonly record struct MetricPoint(DateTimeOffset Time, double Value);

/// <summary>
/// A range query. With no <see cref="Step"/>, points are one second apart when <see cref="From"/> is within the last
/// hour and one minute apart otherwise.
/// </summary>
/// <param name="Service">The service whose series to read.</param>
/// <param name="Metric">What to read.</param>
/// <param name="From">The start of the range; earlier than the retained data is the oldest retained.</param>
/// <param name="To">The end of the range, exclusive; later than now is now.</param>
public sealed record MetricQuery(string Service, Metric Metric, DateTimeOffset From, DateTimeOffset To)
{
    /// <summary>The interval each point summarises: whole seconds within the last hour, whole minutes beyond.</summary>
    public TimeSpan? Step { get; init; }

    /// <summary>A task of the service, to read its series instead of the service's.</summary>
    public string? Task { get; init; }
}

/// <summary>
/// A range query's answer: one point per <see cref="Step"/>, at times that are multiples of the step, oldest first.
/// A point is the mean of the per-second (or per-minute) values in its step, or for a latency percentile the percentile
/// of the step's merged histogram. Steps without data have no point.
/// </summary>
public sealed record MetricRange(TimeSpan Step, IReadOnlyList<MetricPoint> Points);

/// <summary>
/// The store's limits on series that come and go. The retention of each resolution is fixed (see
/// <see cref="MetricStore.SecondsRetained"/>), so that every ring is allocated once.
/// </summary>
public sealed record MetricStoreOptions
{
    /// <summary>How long a stopped task's series stay readable, for post-mortems. Default 1h, the per-second retention.</summary>
    public TimeSpan StoppedTaskRetention { get; init; } = TimeSpan.FromHours(1);

    /// <summary>Stopped tasks kept per service; beyond it the longest stopped go first. Default 10.</summary>
    public int MaxStoppedTasksPerService { get; init; } = 10;

    /// <summary>Custom series per service, its tasks' included. Default 100.</summary>
    public int MaxCustomSeriesPerService { get; init; } = 100;
}

/// <summary>A group of tasks' figures over a window (<see cref="MetricStore.Group"/>).</summary>
/// <param name="Requests">Requests answered.</param>
/// <param name="Errors">Of which failed (5xx or no answer).</param>
/// <param name="Latency">The asked-for latency quantile in seconds; null without requests.</param>
public readonly record struct GroupFigures(long Requests, long Errors, double? Latency)
{
    public double ErrorRate => Requests == 0 ? 0 : (double)Errors / Requests;
}
