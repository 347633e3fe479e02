using Flotilla.Proxy.FastPath;

namespace Flotilla.Tests.Proxy.FastPath;

public sealed class UpstreamPoolTests
{
    [Fact]
    public void Rent_MostRecentlyReturnedFirst_AndIdleOnesAreClosedAfterTheTimeout()
    {
        var target = Targets.New("t1", Targets.Time());
        List<UpstreamSocket> closed = [];
        var pool = new UpstreamPool(closed.Add);
        using var older = new Released(new UpstreamSocket(-1, target));
        using var newer = new Released(new UpstreamSocket(-1, target));

        Assert.Null(pool.Rent(target));
        pool.Return(older.Socket, now: 1_000);
        pool.Return(newer.Socket, now: 2_000);
        Assert.Same(newer.Socket, pool.Rent(target));
        pool.Return(newer.Socket, now: 3_000);

        pool.Scavenge(3_000);
        Assert.Equal(2, pool.IdleCount(target));
        Assert.Empty(closed);

        // The older one has idled past the timeout, the newer one not yet: only the older is closed.
        pool.Scavenge(1_000 + (long)UpstreamPool.IdleTimeout.TotalMilliseconds + 1);
        Assert.Equal([older.Socket], closed);
        Assert.Same(newer.Socket, pool.Rent(target));
        Assert.Null(pool.Rent(target));
    }

    [Fact]
    public void Rent_SkipsAndClosesAConnectionMarkedClosed()
    {
        var target = Targets.New("t1", Targets.Time());
        List<UpstreamSocket> closed = [];
        var pool = new UpstreamPool(closed.Add);
        using var gone = new Released(new UpstreamSocket(-1, target));
        using var open = new Released(new UpstreamSocket(-1, target));
        pool.Return(open.Socket, now: 1);
        pool.Return(gone.Socket, now: 2);
        gone.Socket.MarkClosed();

        Assert.Same(open.Socket, pool.Rent(target));
        Assert.Equal([gone.Socket], closed);
    }

    /// <summary>Returns a test socket's pooled buffer.</summary>
    private sealed class Released(UpstreamSocket socket) : IDisposable
    {
        public UpstreamSocket Socket { get; } = socket;

        public void Dispose() => Socket.Release();
    }
}
