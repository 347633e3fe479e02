using Flotilla.Proxy;
using Microsoft.Extensions.Logging.Abstractions;

namespace Flotilla.Tests.Proxy;

/// <summary>loadBalancer.maxConnections: its default from the open-files limit, and the count both paths keep against it.</summary>
public sealed class ConnectionBudgetTests
{
    [Theory]
    [InlineData(20_000, 9_000)] // this machine's limit: a tenth reserved
    [InlineData(1_048_576, 471_859)] // Docker's and systemd's usual hard limit
    [InlineData(4_096, 1_792)] // the 512 reserve
    [InlineData(1_024, 256)]
    [InlineData(600, 64)] // never below 64
    [InlineData(long.MaxValue, int.MaxValue)] // unlimited
    public void DefaultFor_HalfOfTheDescriptorsLeftAfterAReserve(long openFiles, int expected) =>
        Assert.Equal(expected, ConnectionBudget.DefaultFor(openFiles));

    [Theory]
    [InlineData(64, 0)] // the floor needs nothing
    [InlineData(65, 642)]
    [InlineData(256, 1_024)]
    [InlineData(1_792, 4_096)]
    [InlineData(9_000, 19_999)]
    [InlineData(10_000_000, 22_222_222)] // maxConnections' top
    public void OpenFilesFor_IsTheSmallestLimitWhoseDefaultHasRoom(int connections, long expected)
    {
        var openFiles = ConnectionBudget.OpenFilesFor(connections);

        Assert.Equal(expected, openFiles);
        Assert.True(ConnectionBudget.DefaultFor(openFiles) >= connections);
        Assert.True(openFiles == 0 || ConnectionBudget.DefaultFor(openFiles - 1) < connections);
    }

    [Fact]
    public void TryTake_StopsAtTheLimit_AndAReturnMakesRoomAgain()
    {
        var budget = new ConnectionBudget(2, NullLogger.Instance);

        Assert.True(budget.TryTake());
        Assert.True(budget.TryTake());
        Assert.False(budget.TryTake());
        Assert.Equal((2, false), (budget.Open, budget.HasRoom));

        budget.Return();

        Assert.True(budget.HasRoom);
        Assert.True(budget.TryTake());
        Assert.Equal(2, budget.Open);
    }

    [Fact]
    public void OpenFilesLimit_IsThisProcesssSoftLimit()
    {
        var limits = File.ReadLines("/proc/self/limits").Single(l => l.StartsWith("Max open files", StringComparison.Ordinal));

        Assert.Equal(long.Parse(limits.Split(' ', StringSplitOptions.RemoveEmptyEntries)[3], System.Globalization.CultureInfo.InvariantCulture), ConnectionBudget.OpenFilesLimit());
    }
}
