namespace Flotilla.Core.Metrics;

/// <summary>The two resolutions the store keeps; the value is the length of one slot in seconds.</summary>
internal enum Resolution
{
    Second = 1,
    Minute = 60,
}

/// <summary>One metric of one series, as queries read it at either resolution.</summary>
internal interface IMetricHistory
{
    /// <summary>The metric over the slots [<paramref name="from"/>, <paramref name="to"/>), or null when none has data.</summary>
    double? Summarize(Resolution resolution, long from, long to);
}

/// <summary>
/// One scalar metric's points: a ring of seconds and a ring of minutes, each allocated once. A minute is the mean of the
/// seconds that have a point, written when its last second is. NaN marks a slot without a point.
/// </summary>
/// <remarks>
/// Points are 32-bit floats: seven significant digits are more than any rate, gauge or byte count needs, and they halve
/// the store's largest fixed cost.
/// </remarks>
internal sealed class ScalarHistory : IMetricHistory
{
    private readonly float[] _seconds = NewRing(MetricStore.SecondsRetained);
    private readonly float[] _minutes = NewRing(MetricStore.MinutesRetained);

    /// <summary>Writes second <paramref name="second"/>; seconds are written in order, every one of them.</summary>
    public void Write(long second, double value)
    {
        _seconds[Index(second, _seconds)] = (float)value;
        if (Slots.IsLastSecondOfMinute(second))
        {
            var minute = Slots.MinuteOf(second);
            _minutes[Index(minute, _minutes)] = (float)(Mean(_seconds, minute * 60, (minute + 1) * 60) ?? double.NaN);
        }
    }

    public double? Summarize(Resolution resolution, long from, long to) =>
        Mean(resolution == Resolution.Second ? _seconds : _minutes, from, to);

    /// <summary>The sum of the per-second points of [<paramref name="from"/>, <paramref name="to"/>): for a rate, the count.</summary>
    public double Total(long from, long to)
    {
        double sum = 0;
        for (var slot = from; slot < to; slot++)
        {
            var value = _seconds[Index(slot, _seconds)];
            if (!float.IsNaN(value))
            {
                sum += value;
            }
        }

        return sum;
    }

    private static double? Mean(float[] ring, long from, long to)
    {
        double sum = 0;
        var count = 0;
        for (var slot = from; slot < to; slot++)
        {
            var value = ring[Index(slot, ring)];
            if (!float.IsNaN(value))
            {
                sum += value;
                count++;
            }
        }

        return count == 0 ? null : sum / count;
    }

    private static int Index(long slot, float[] ring) => (int)(slot % ring.Length);

    private static float[] NewRing(int length)
    {
        var ring = new float[length];
        ring.AsSpan().Fill(float.NaN);
        return ring;
    }
}

/// <summary>Latency histograms of one series: one per second for an hour, one per minute for a day.</summary>
internal sealed class LatencyHistory
{
    private readonly HistogramRing _seconds = new(MetricStore.SecondsRetained);
    private readonly HistogramRing _minutes = new(MetricStore.MinutesRetained);

    /// <summary>Writes second <paramref name="second"/>'s histogram (empty when nothing was answered).</summary>
    public void Write(long second, ReadOnlySpan<long> counts)
    {
        _seconds.Append(second, counts);
        if (Slots.IsLastSecondOfMinute(second))
        {
            var minute = Slots.MinuteOf(second);
            Span<long> merged = stackalloc long[LatencyBuckets.Count];
            merged.Clear();
            _seconds.AddTo(minute * 60, (minute + 1) * 60, merged);
            _minutes.Append(minute, merged);
        }
    }

    /// <summary>Adds the histograms of slots [<paramref name="from"/>, <paramref name="to"/>) to <paramref name="counts"/>.</summary>
    public void AddTo(Resolution resolution, long from, long to, Span<long> counts) =>
        (resolution == Resolution.Second ? _seconds : _minutes).AddTo(from, to, counts);

    /// <summary>One percentile of these histograms, merged over each slot range asked for.</summary>
    public IMetricHistory Percentile(double quantile) => new PercentileView(this, quantile);

    private sealed class PercentileView(LatencyHistory latency, double quantile) : IMetricHistory
    {
        public double? Summarize(Resolution resolution, long from, long to)
        {
            Span<long> merged = stackalloc long[LatencyBuckets.Count];
            merged.Clear();
            latency.AddTo(resolution, from, to, merged);
            return LatencyBuckets.Quantile(merged, quantile);
        }
    }
}

/// <summary>The built-in metrics of one service or one task.</summary>
internal sealed class BuiltInHistory
{
    private readonly ScalarHistory _requests = new();
    private readonly ScalarHistory _errors = new();
    private readonly ScalarHistory _inFlight = new();
    private readonly ScalarHistory _cpu = new();
    private readonly ScalarHistory _rss = new();
    private readonly LatencyHistory _latency = new();

    /// <summary>
    /// Writes the seconds [<paramref name="first"/>, <paramref name="last"/>], usually one. When the store's tick came
    /// late, the requests and errors counted meanwhile are spread evenly over those seconds as rates, and the gauges
    /// and latencies, which belong to no particular one of them, go to the last.
    /// </summary>
    public void Write(long first, long last, in SecondSample sample, ReadOnlySpan<long> latency)
    {
        for (var second = first; second <= last; second++)
        {
            var isLast = second == last;
            _requests.Write(second, sample.Requests);
            _errors.Write(second, sample.Errors);
            _inFlight.Write(second, isLast ? sample.InFlight : double.NaN);
            _cpu.Write(second, isLast ? sample.Cpu : double.NaN);
            _rss.Write(second, isLast ? sample.Rss : double.NaN);
            _latency.Write(second, isLast ? latency : default);
        }
    }

    /// <summary>Requests and errors answered in the seconds [<paramref name="from"/>, <paramref name="to"/>).</summary>
    public (double Requests, double Errors) Totals(long from, long to) => (_requests.Total(from, to), _errors.Total(from, to));

    /// <summary>Adds the latency histograms of the seconds [<paramref name="from"/>, <paramref name="to"/>) to <paramref name="counts"/>.</summary>
    public void AddLatencyTo(long from, long to, Span<long> counts) => _latency.AddTo(Resolution.Second, from, to, counts);

    public IMetricHistory For(Metric metric) => metric.Kind switch
    {
        MetricKind.Requests => _requests,
        MetricKind.Errors => _errors,
        MetricKind.InFlight => _inFlight,
        MetricKind.Cpu => _cpu,
        MetricKind.Rss => _rss,
        MetricKind.Latency => _latency.Percentile(metric.Quantile),
        _ => throw new ArgumentException($"{metric.Name} is not a built-in metric", nameof(metric)),
    };
}

/// <summary>The values of one closed second of a series: rates per second, gauges as sampled (NaN when not).</summary>
internal readonly record struct SecondSample(double Requests, double Errors, double InFlight, double Cpu, double Rss);
