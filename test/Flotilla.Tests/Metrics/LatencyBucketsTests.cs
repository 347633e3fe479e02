using Flotilla.Core.Metrics;

namespace Flotilla.Tests.Metrics;

public sealed class LatencyBucketsTests
{
    [Fact]
    public void RelativeError_SchemaThree_IsAboutFourPercent() =>
        Assert.InRange(LatencyBuckets.RelativeError, 0.043, 0.044);

    [Theory]
    [InlineData(0.5, 0.1)]
    [InlineData(0.99, 0.1)]
    [InlineData(0.5, 1.5)]
    [InlineData(0.999, 1.5)]
    public void Quantile_RandomLatencies_IsWithinTheRelativeErrorOfTheExactSample(double quantile, double spread)
    {
        var random = new Random(42);
        for (var round = 0; round < 200; round++)
        {
            // Log-uniform around a random median, from tight (±10%) to wide (a factor of 30 either way).
            var median = Math.Exp(random.NextDouble() * Math.Log(1000)) * 0.001;
            var samples = Enumerable.Range(0, 1 + random.Next(500))
                .Select(_ => Math.Clamp(median * Math.Exp((random.NextDouble() - 0.5) * 2 * spread * Math.Log(10)), 1e-4, 60))
                .ToArray();
            var counts = new long[LatencyBuckets.Count];
            foreach (var sample in samples)
            {
                counts[LatencyBuckets.IndexOf(TimeSpan.FromSeconds(sample))]++;
            }

            Array.Sort(samples);
            var exact = samples[(int)Math.Ceiling(quantile * samples.Length) - 1];
            var estimate = LatencyBuckets.Quantile(counts, quantile)!.Value;

            Assert.True(
                Math.Abs(estimate - exact) / exact <= LatencyBuckets.RelativeError + 1e-9,
                $"p{quantile} of {samples.Length} samples: estimated {estimate}, exact {exact}");
        }
    }

    [Fact]
    public void IndexOf_EitherSideOfABoundary_FallsInTheBucketsItSeparates()
    {
        for (var i = 0; i < LatencyBuckets.Count - 1; i++)
        {
            var upper = LatencyBuckets.UpperBound(i);
            Assert.Equal(i, LatencyBuckets.IndexOf(TimeSpan.FromSeconds(upper * 0.99)));
            Assert.Equal(i + 1, LatencyBuckets.IndexOf(TimeSpan.FromSeconds(upper * 1.01)));
        }
    }

    [Fact]
    public void IndexOf_OutOfRange_ClampsToTheEdgeBuckets()
    {
        Assert.Equal(0, LatencyBuckets.IndexOf(TimeSpan.Zero));
        Assert.Equal(0, LatencyBuckets.IndexOf(TimeSpan.FromMicroseconds(50)));
        Assert.Equal(LatencyBuckets.Count - 1, LatencyBuckets.IndexOf(TimeSpan.FromMinutes(5)));
        Assert.Equal(64, LatencyBuckets.ValueOf(LatencyBuckets.Count - 1));
    }

    [Fact]
    public void Quantile_EmptyHistogram_IsNull() =>
        Assert.Null(LatencyBuckets.Quantile(new long[LatencyBuckets.Count], 0.5));

    [Fact]
    public void Quantile_MergedHistograms_EqualsTheQuantileOfAllSamples()
    {
        var fast = new long[LatencyBuckets.Count];
        var slow = new long[LatencyBuckets.Count];
        fast[LatencyBuckets.IndexOf(TimeSpan.FromMilliseconds(12))] = 90;
        slow[LatencyBuckets.IndexOf(TimeSpan.FromMilliseconds(400))] = 10;

        var merged = fast.Zip(slow, (a, b) => a + b).ToArray();

        Assert.Equal(0.012, LatencyBuckets.Quantile(merged, 0.90)!.Value, 0.012 * LatencyBuckets.RelativeError);
        Assert.Equal(0.400, LatencyBuckets.Quantile(merged, 0.91)!.Value, 0.400 * LatencyBuckets.RelativeError);
    }
}
