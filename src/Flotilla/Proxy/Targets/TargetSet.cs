using System.Collections.Immutable;

namespace Flotilla.Proxy.Targets;

/// <summary>
/// The targets a request may go to, as one immutable snapshot: never empty when handed to a policy. A new snapshot is
/// made whenever membership or eligibility changes, so a policy may cache what it derives from one (a hash ring, a
/// weight schedule) by reference, and rebuild when it sees a different one.
/// </summary>
internal sealed class TargetSet(ImmutableArray<Target> targets)
{
    public static TargetSet Empty { get; } = new([]);

    public ImmutableArray<Target> Targets { get; } = targets;

    public int Count => Targets.Length;

    public Target this[int index] => Targets[index];
}
