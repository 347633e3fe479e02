using Flotilla.Core.Metrics;

namespace Flotilla.Tests.Metrics;

public sealed class MetricTests
{
    [Theory]
    [InlineData("requests", MetricKind.Requests)]
    [InlineData("in_flight", MetricKind.InFlight)]
    [InlineData("latency_p99", MetricKind.Latency)]
    [InlineData("queue_depth", MetricKind.Custom)]
    public void TryParse_ValidNames_GiveTheirKind(string name, MetricKind kind)
    {
        Assert.True(Metric.TryParse(name, out var metric, out _));
        Assert.Equal(kind, metric.Kind);
        Assert.Equal(name, metric.Name);
    }

    [Theory]
    [InlineData("latency_p50", 0.5)]
    [InlineData("latency_p90", 0.9)]
    [InlineData("latency_p999", 0.999)]
    [InlineData("latency_p9999", 0.9999)]
    public void TryParse_LatencyPercentiles_ReadTheDigitsAfterZeroPoint(string name, double quantile)
    {
        Assert.True(Metric.TryParse(name, out var metric, out _));
        Assert.Equal(quantile, metric.Quantile);
        Assert.Equal(metric, Metric.Latency(quantile));
    }

    [Theory]
    [InlineData("latency_p9", "not a latency percentile")]
    [InlineData("latency_p00", "not a latency percentile")]
    [InlineData("latency_mean", "not a latency percentile")]
    [InlineData("Queue", "lower-case")]
    [InlineData("9lives", "start with a letter")]
    [InlineData("", "lower-case")]
    public void TryParse_InvalidNames_SayWhatIsValid(string name, string expected)
    {
        Assert.False(Metric.TryParse(name, out _, out var error));
        Assert.Contains(expected, error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("requests")]
    [InlineData("latency_anything")]
    public void CustomNameError_BuiltInNames_AreReserved(string name) =>
        Assert.Contains("built-in", Metric.CustomNameError(name), StringComparison.Ordinal);
}
