using Flotilla.Proxy.Targets;

namespace Flotilla.Proxy.LoadBalancing;

/// <summary>
/// What a policy derives from one <see cref="TargetSet"/> — a hash ring, a schedule's state — kept for as long as that
/// set is the current one. A set is immutable and replaced whenever membership changes, so comparing references is
/// the whole invalidation, and the hot path reads one field without a lock.
/// </summary>
internal sealed class PerTargetSet<T>(Func<TargetSet, T> derive)
    where T : class
{
    private Entry? _entry;

    public T For(TargetSet targets)
    {
        var seen = Volatile.Read(ref _entry);
        if (seen is not null && ReferenceEquals(seen.Targets, targets))
        {
            return seen.Value;
        }

        // Requests meeting a new set at the same moment each derive; the first to publish wins and the others adopt
        // its value, so a stateful value (a schedule) is shared from the start. A request still holding an older set
        // uses what it derived once and leaves the shared one alone.
        var fresh = new Entry(targets, derive(targets));
        var winner = Interlocked.CompareExchange(ref _entry, fresh, seen);
        return winner == seen || !ReferenceEquals(winner?.Targets, targets) ? fresh.Value : winner.Value;
    }

    private sealed class Entry(TargetSet targets, T value)
    {
        public TargetSet Targets { get; } = targets;

        public T Value { get; } = value;
    }
}
