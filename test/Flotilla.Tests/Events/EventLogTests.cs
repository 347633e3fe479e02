using Flotilla.Core.Events;

namespace Flotilla.Tests.Events;

public sealed class EventLogTests
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 22, 10, 0, 0, TimeSpan.Zero);

    private static FleetEvent At(int second, string message = "m") => new(T0.AddSeconds(second), EventReasons.TaskStarted, message);

    [Fact]
    public void Append_Events_GetIncreasingIdsFromOne()
    {
        var log = new EventLog();

        var ids = Enumerable.Range(0, 3).Select(i => log.Append(At(i)).Id).ToList();

        Assert.Equal([1L, 2L, 3L], ids);
        Assert.Equal(3, log.LastId);
    }

    [Fact]
    public void After_AnId_ReturnsLaterEventsOldestFirst()
    {
        var log = new EventLog();
        for (var i = 0; i < 5; i++)
        {
            log.Append(At(i, $"e{i}"));
        }

        Assert.Equal(["e2", "e3", "e4"], log.After(2).Select(e => e.Message));
        Assert.Equal(["e3", "e4"], log.After(0, max: 2).Select(e => e.Message));
        Assert.Empty(log.After(5));
    }

    [Fact]
    public void Since_ATime_ReturnsEventsAtOrAfterIt() =>
        Assert.Equal(
            ["e3", "e4"],
            Fill(new EventLog(), 5).Since(T0.AddSeconds(3)).Select(e => e.Message));

    [Fact]
    public void Append_BeyondCapacity_ForgetsTheOldestAndKeepsIds()
    {
        var log = Fill(new EventLog(capacity: 3), 5);

        Assert.Equal([3L, 4L, 5L], log.After(0).Select(e => e.Id));
    }

    [Fact]
    public void Append_RaisesAppendedWithTheStoredEvent()
    {
        var log = new EventLog();
        FleetEvent? seen = null;
        log.Appended += e => seen = e;

        log.Append(At(0));

        Assert.Equal(1, seen?.Id);
    }

    private static EventLog Fill(EventLog log, int count)
    {
        for (var i = 0; i < count; i++)
        {
            log.Append(At(i, $"e{i}"));
        }

        return log;
    }
}
