namespace Flotilla.Core.Events;

/// <summary>
/// The fleet's events, newest last, in a ring of <c>capacity</c> so that memory stays bounded however long Flotilla runs.
/// Safe to read from any thread while one writer appends.
/// </summary>
public sealed class EventLog(int capacity = 10_000)
{
    private readonly Lock _lock = new();
    private readonly FleetEvent[] _ring = new FleetEvent[capacity];
    private long _lastId;

    /// <summary>Raised after each append, outside the lock, on the appending thread.</summary>
    public event Action<FleetEvent>? Appended;

    public long LastId
    {
        get
        {
            lock (_lock)
            {
                return _lastId;
            }
        }
    }

    public FleetEvent Append(FleetEvent fleetEvent)
    {
        FleetEvent stored;
        lock (_lock)
        {
            stored = fleetEvent with { Id = ++_lastId };
            _ring[(stored.Id - 1) % _ring.Length] = stored;
        }

        Appended?.Invoke(stored);
        return stored;
    }

    /// <summary>Events with an id greater than <paramref name="afterId"/>, oldest first, at most <paramref name="max"/> (the newest ones).</summary>
    public IReadOnlyList<FleetEvent> After(long afterId, int max = int.MaxValue) => Select(e => e.Id > afterId, max);

    /// <summary>Events at or after <paramref name="since"/>, oldest first, at most <paramref name="max"/> (the newest ones).</summary>
    public IReadOnlyList<FleetEvent> Since(DateTimeOffset since, int max = int.MaxValue) => Select(e => e.Time >= since, max);

    private List<FleetEvent> Select(Func<FleetEvent, bool> predicate, int max)
    {
        lock (_lock)
        {
            var oldest = Math.Max(1, _lastId - _ring.Length + 1);
            var result = new List<FleetEvent>();
            for (var id = _lastId; id >= oldest && result.Count < max; id--)
            {
                var e = _ring[(id - 1) % _ring.Length];
                if (!predicate(e))
                {
                    break;
                }

                result.Add(e);
            }

            result.Reverse();
            return result;
        }
    }
}
