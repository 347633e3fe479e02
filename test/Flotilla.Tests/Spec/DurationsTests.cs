using Flotilla.Core;

namespace Flotilla.Tests.Spec;

public sealed class DurationsTests
{
    [Theory]
    [InlineData("250ms", 250)]
    [InlineData("5s", 5_000)]
    [InlineData("2m", 120_000)]
    [InlineData("1h", 3_600_000)]
    [InlineData("1m30s", 90_000)]
    [InlineData("1.5s", 1_500)]
    [InlineData("0", 0)]
    public void TryParse_ValidDuration_ReturnsMilliseconds(string text, int expectedMs)
    {
        Assert.True(Durations.TryParse(text, out var value));
        Assert.Equal(TimeSpan.FromMilliseconds(expectedMs), value);
    }

    [Theory]
    [InlineData("5")]
    [InlineData("")]
    [InlineData("s")]
    [InlineData("5 s")]
    [InlineData("5d")]
    [InlineData("-5s")]
    public void TryParse_InvalidDuration_ReturnsFalse(string text) => Assert.False(Durations.TryParse(text, out _));

    [Theory]
    [InlineData(250, "250ms")]
    [InlineData(5_000, "5s")]
    [InlineData(90_000, "1m30s")]
    [InlineData(3_600_000, "1h")]
    [InlineData(0, "0s")]
    [InlineData(4_553, "4.553s")]
    [InlineData(90_500, "1m30.5s")]
    public void Format_Duration_WritesItAsTheSpecWould(int ms, string expected) =>
        Assert.Equal(expected, Durations.Format(TimeSpan.FromMilliseconds(ms)));
}
