namespace Flotilla.Proxy.LoadBalancing;

/// <summary>
/// A shared, lock-free position that moves by one on every call: the round-robin step, and the tie-break of the
/// scanning policies, which start their scan here so that equal targets — every target, when all are idle — take
/// turns instead of the first one taking everything.
/// </summary>
internal sealed class Rotation
{
    private int _next = -1;

    /// <summary>The next position in [0, <paramref name="count"/>).</summary>
    /// <remarks>The unsigned modulo keeps the position valid when the counter wraps past <see cref="int.MaxValue"/>.</remarks>
    public int Next(int count) => (int)((uint)Interlocked.Increment(ref _next) % (uint)count);
}
