using System.Globalization;

namespace Flotilla.Core.Metrics;

/// <summary>What a metric measures, which decides how its points are made and summarised.</summary>
public enum MetricKind
{
    /// <summary>Requests answered per second.</summary>
    Requests,

    /// <summary>Requests per second that ended in a 5xx or without a response.</summary>
    Errors,

    /// <summary>Requests in flight, sampled once a second.</summary>
    InFlight,

    /// <summary>A latency percentile, from merged histograms.</summary>
    Latency,

    /// <summary>CPU time as a percentage of one core, from /proc.</summary>
    Cpu,

    /// <summary>Resident set size in bytes, from /proc.</summary>
    Rss,

    /// <summary>A value pushed through the API, such as a worker's queue depth.</summary>
    Custom,
}

/// <summary>
/// A metric as the API and the autoscaler name it: <c>requests</c>, <c>errors</c>, <c>in_flight</c>, <c>cpu</c>,
/// <c>rss</c>, <c>latency_p50</c> (any <c>latency_pNN</c>, <c>latency_p999</c>), or a custom name such as
/// <c>queue_depth</c>.
/// </summary>
public sealed record Metric
{
    private const string LatencyPrefix = "latency_";
    private const int MaxNameLength = 63;

    private Metric(MetricKind kind, string name, string? unit, double quantile = 0)
    {
        Kind = kind;
        Name = name;
        Unit = unit;
        Quantile = quantile;
    }

    /// <summary>Requests per second. Counts every request recorded, whatever its status.</summary>
    public static Metric Requests { get; } = new(MetricKind.Requests, "requests", "requests/s");

    /// <summary>Errors per second: 5xx responses, and requests that got no response from the task at all.</summary>
    public static Metric Errors { get; } = new(MetricKind.Errors, "errors", "errors/s");

    /// <summary>Requests in flight when sampled; a service's is the sum of its tasks'.</summary>
    public static Metric InFlight { get; } = new(MetricKind.InFlight, "in_flight", "requests");

    /// <summary>CPU time of a task's process as a percentage of one core (200 is two cores busy); a service's is the sum.</summary>
    public static Metric Cpu { get; } = new(MetricKind.Cpu, "cpu", "percent");

    /// <summary>Resident memory of a task's process; a service's is the sum.</summary>
    public static Metric Rss { get; } = new(MetricKind.Rss, "rss", "bytes");

    /// <summary>Median latency.</summary>
    public static Metric LatencyP50 { get; } = Latency(0.50);

    /// <summary>95th percentile latency.</summary>
    public static Metric LatencyP95 { get; } = Latency(0.95);

    /// <summary>99th percentile latency.</summary>
    public static Metric LatencyP99 { get; } = Latency(0.99);

    /// <summary>The metrics every service and task has, in the order the API lists them.</summary>
    public static IReadOnlyList<Metric> BuiltIn { get; } = [Requests, Errors, InFlight, LatencyP50, LatencyP95, LatencyP99, Cpu, Rss];

    /// <summary>What it measures, which decides how its points are made and summarised.</summary>
    public MetricKind Kind { get; }

    /// <summary>The name in the API: <c>requests</c>, <c>latency_p99</c>, <c>queue_depth</c>.</summary>
    public string Name { get; }

    /// <summary>The unit of its values, or null for a custom metric, whose unit only its sender knows.</summary>
    public string? Unit { get; }

    /// <summary>For <see cref="MetricKind.Latency"/>, the quantile in (0, 1): 0.99 for <c>latency_p99</c>.</summary>
    public double Quantile { get; }

    /// <summary>A latency percentile; <paramref name="quantile"/> has at most four decimals (0.9999).</summary>
    public static Metric Latency(double quantile)
    {
        if (quantile is <= 0 or >= 1 || Math.Round(quantile, 4) != quantile)
        {
            throw new ArgumentOutOfRangeException(nameof(quantile), quantile, "a quantile is in (0, 1) with at most four decimals");
        }

        // 0.5 → "50", 0.99 → "99", 0.999 → "999": the digits after "0.", at least two, the way p50 and p999 are written.
        var digits = quantile.ToString("0.00##", CultureInfo.InvariantCulture)[2..];
        return new Metric(MetricKind.Latency, $"{LatencyPrefix}p{digits}", "seconds", quantile);
    }

    /// <summary>A metric pushed through the API. Throws when <paramref name="name"/> is not a valid custom name.</summary>
    public static Metric Custom(string name) =>
        CustomNameError(name) is { } error ? throw new ArgumentException(error, nameof(name)) : new Metric(MetricKind.Custom, name, null);

    /// <summary>Reads a metric name; the error says what names are valid.</summary>
    public static bool TryParse(string name, out Metric metric, out string error)
    {
        error = "";
        if (BuiltIn.FirstOrDefault(m => m.Name == name) is { } builtIn)
        {
            metric = builtIn;
            return true;
        }

        if (name.StartsWith(LatencyPrefix + "p", StringComparison.Ordinal) && TryParseQuantile(name[(LatencyPrefix.Length + 1)..]) is { } quantile)
        {
            metric = Latency(quantile);
            return true;
        }

        metric = null!;
        if (name.StartsWith(LatencyPrefix, StringComparison.Ordinal))
        {
            error = $"'{name}' is not a latency percentile; write latency_p50, latency_p99 or latency_p999 (two to four digits after 0.)";
            return false;
        }

        if (CustomNameError(name) is { } customError)
        {
            error = customError;
            return false;
        }

        metric = new Metric(MetricKind.Custom, name, null);
        return true;
    }

    /// <summary>Why <paramref name="name"/> cannot name a custom metric, or null if it can.</summary>
    public static string? CustomNameError(string name)
    {
        if (name.Length is 0 or > MaxNameLength || !char.IsAsciiLetterLower(name[0]) || !name.All(c => char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c) || c == '_'))
        {
            return $"metric names are lower-case letters, digits and '_', start with a letter and have at most {MaxNameLength} characters; got '{name}'";
        }

        return BuiltIn.Any(m => m.Name == name) || name.StartsWith(LatencyPrefix, StringComparison.Ordinal)
            ? $"'{name}' is a built-in metric name; custom metrics need a name of their own (built-in: {string.Join(", ", BuiltIn.Select(m => m.Name))}, latency_pNN)"
            : null;
    }

    private static double? TryParseQuantile(string digits) =>
        digits.Length is >= 2 and <= 4 && digits.All(char.IsAsciiDigit) && int.Parse(digits, CultureInfo.InvariantCulture) is > 0 and var n
            ? n / Math.Pow(10, digits.Length)
            : null;
}
