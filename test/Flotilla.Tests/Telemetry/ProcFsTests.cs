using Flotilla.Telemetry;

namespace Flotilla.Tests.Telemetry;

public sealed class ProcFsTests
{
    // A real /proc/PID/stat line, with utime 1520 and stime 37.
    private const string Stat =
        "28588 (dotnet) S 28585 28585 22672 0 -1 4194304 100 0 0 0 1520 37 0 0 20 0 1 0 285637 3133440 358 "
        + "18446744073709551615 93936592756736 93936592776617 140729139319552 0 0 0 0 0 0 0 0 0 17 0 0 0 0 0 0\n";

    [Fact]
    public void TryParseCpuTicks_StatLine_IsUserPlusSystemTime()
    {
        Assert.True(ProcFs.TryParseCpuTicks(Stat, out var ticks));
        Assert.Equal(1557, ticks);
    }

    [Fact]
    public void TryParseCpuTicks_CommandWithSpacesAndParentheses_CountsFieldsFromTheLastParenthesis()
    {
        var stat = Stat.Replace("(dotnet)", "(my (odd) 1 2 3 task)", StringComparison.Ordinal);

        Assert.True(ProcFs.TryParseCpuTicks(stat, out var ticks));
        Assert.Equal(1557, ticks);
    }

    [Theory]
    [InlineData("")]
    [InlineData("28588 (dotnet) S 1 2 3")]
    [InlineData("28588 dotnet S 28585 28585 22672 0 -1 4194304 100 0 0 0 1520 37")]
    [InlineData("28588 (dotnet) S 28585 28585 22672 0 -1 4194304 100 0 0 0 x 37 0")]
    public void TryParseCpuTicks_Malformed_IsFalse(string stat) =>
        Assert.False(ProcFs.TryParseCpuTicks(stat, out _));

    [Fact]
    public void TryParseResidentPages_Statm_IsTheSecondField()
    {
        Assert.True(ProcFs.TryParseResidentPages("765 405 376 5 0 123 0\n", out var pages));
        Assert.Equal(405, pages);
    }

    [Theory]
    [InlineData("")]
    [InlineData("765")]
    [InlineData("765 -4 376")]
    public void TryParseResidentPages_Malformed_IsFalse(string statm) =>
        Assert.False(ProcFs.TryParseResidentPages(statm, out _));

    [Theory]
    [InlineData(1000, 1100, 1.0, 100)]
    [InlineData(1000, 1050, 1.0, 50)]
    [InlineData(1000, 1250, 1.0, 250)]
    [InlineData(1000, 1100, 2.0, 50)]
    [InlineData(1000, 900, 1.0, 0)]
    public void CpuPercent_TicksOverAnInterval_IsAPercentageOfOneCore(long before, long after, double seconds, double expected) =>
        Assert.Equal(expected, ProcFs.CpuPercent(before, after, TimeSpan.FromSeconds(seconds), ticksPerSecond: 100), 9);

    [Fact]
    public void Read_ThisProcess_HasCpuTimeAndResidentMemory()
    {
        var sample = ProcFs.Read(Environment.ProcessId);

        Assert.NotNull(sample);
        Assert.True(sample.Value.RssBytes > 1 << 20, $"RSS {sample.Value.RssBytes}");
        Assert.True(sample.Value.CpuTicks > 0);
    }

    [Fact]
    public void Read_NoSuchProcess_IsNull() =>
        Assert.Null(ProcFs.Read(int.MaxValue));

    [Fact]
    public void ClockTicksPerSecond_FromSysconf_IsPositive() =>
        Assert.InRange(ProcFs.ClockTicksPerSecond, 1, 10_000);
}
