namespace Flotilla.Core.Metrics;

/// <summary>
/// The fixed, log-spaced buckets of every latency histogram in the store. Bucket boundaries are 2^(k/8) seconds, the
/// bucket scheme of Prometheus native histograms at schema 3, for k from -106 (about 0.1 ms) to 48 (64 s), with one
/// bucket below and one above. Because every histogram shares these boundaries, merging seconds into minutes or tasks
/// into a service is adding counts, and the merged percentile is as accurate as a single histogram's.
/// </summary>
/// <remarks>
/// A value is reported as the point of its bucket with the smallest relative distance to both ends,
/// 2·lower·upper/(lower+upper), so any quantile between 0.1 ms and 64 s is within (γ−1)/(γ+1) ≈ 4.3% of the true
/// sample at that rank, where γ = 2^(1/8) (the DDSketch argument). Values at or below about 94 µs are reported as
/// that bound; values above 64 s as 64 s.
/// </remarks>
public static class LatencyBuckets
{
    /// <summary>Buckets per doubling: 8, so each bucket's upper bound is 2^(1/8) ≈ 1.09 times its lower bound.</summary>
    private const int PerDoubling = 8;

    /// <summary>k of the lowest finite bucket, (2^(-107/8), 2^(-106/8)] s ≈ (94 µs, 103 µs].</summary>
    private const int MinK = -106;

    /// <summary>k of the highest finite bucket, (2^(47/8), 2^(48/8)] s ≈ (58.7 s, 64 s].</summary>
    private const int MaxK = 48;

    /// <summary>Number of buckets: the finite ones, one for everything below them and one for everything above.</summary>
    public const int Count = MaxK - MinK + 3;

    private static readonly double Gamma = Math.Pow(2, 1.0 / PerDoubling);

    /// <summary>The upper bound of the bucket for everything below the finite ones, ≈ 94 µs.</summary>
    private static readonly double UnderflowBound = UpperBound(0);

    /// <summary>Each bucket's reported value in seconds, computed once so that percentiles do no transcendental maths.</summary>
    private static readonly double[] Representatives = Enumerable.Range(0, Count).Select(Representative).ToArray();

    /// <summary>The largest relative error of a reported quantile for values between 0.1 ms and 64 s.</summary>
    public static double RelativeError => (Gamma - 1) / (Gamma + 1);

    /// <summary>The bucket that counts a request of this latency. Allocation-free, for the load balancer's hot path.</summary>
    public static int IndexOf(TimeSpan latency)
    {
        var seconds = latency.Ticks / (double)TimeSpan.TicksPerSecond;
        if (seconds <= UnderflowBound)
        {
            return 0;
        }

        var k = (int)Math.Ceiling(Math.Log2(seconds) * PerDoubling);
        return Math.Min(k - MinK + 1, Count - 1);
    }

    /// <summary>The upper bound of bucket <paramref name="index"/> in seconds; the last bucket has none.</summary>
    public static double UpperBound(int index) =>
        index == Count - 1 ? double.PositiveInfinity : Math.Pow(2, (double)(index + MinK - 1) / PerDoubling);

    /// <summary>The value in seconds that a percentile falling in bucket <paramref name="index"/> reports.</summary>
    public static double ValueOf(int index) => Representatives[index];

    /// <summary>
    /// The <paramref name="quantile"/> (0 &lt; q ≤ 1) of a histogram, in seconds, by nearest rank: the value of the bucket
    /// holding the ⌈q·n⌉-th smallest sample. Null when the histogram is empty.
    /// </summary>
    public static double? Quantile(ReadOnlySpan<long> counts, double quantile)
    {
        long total = 0;
        foreach (var count in counts)
        {
            total += count;
        }

        if (total == 0)
        {
            return null;
        }

        var rank = Math.Clamp((long)Math.Ceiling(quantile * total), 1, total);
        long seen = 0;
        for (var i = 0; i < counts.Length; i++)
        {
            seen += counts[i];
            if (seen >= rank)
            {
                return Representatives[i];
            }
        }

        return Representatives[^1];
    }

    private static double Representative(int index)
    {
        if (index == 0)
        {
            return UpperBound(0);
        }

        if (index == Count - 1)
        {
            return UpperBound(Count - 2);
        }

        var upper = UpperBound(index);
        var lower = UpperBound(index - 1);
        return 2 * lower * upper / (lower + upper);
    }
}
