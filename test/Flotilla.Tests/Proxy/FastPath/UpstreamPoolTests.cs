using Flotilla.Proxy.FastPath;
using Flotilla.Proxy.Targets;

namespace Flotilla.Tests.Proxy.FastPath;

public sealed class UpstreamPoolTests : IDisposable
{
    private readonly Target _target = Targets.New("t1", Targets.Time());
    private readonly List<UpstreamSocket> _closed = [];
    private readonly List<UpstreamSocket> _sockets = [];
    private readonly UpstreamPool _pool;

    public UpstreamPoolTests() => _pool = new UpstreamPool(_closed.Add);

    [Fact]
    public void Rent_MostRecentlyReturnedFirst_AndIdleOnesAreClosedAfterTheTimeout()
    {
        var (older, newer) = (Socket(), Socket());

        Assert.Null(_pool.Rent(_target));
        _pool.Return(older, now: 1_000);
        _pool.Return(newer, now: 2_000);
        Assert.Same(newer, _pool.Rent(_target));
        _pool.Return(newer, now: 3_000);

        _pool.Scavenge(3_000);
        Assert.Equal(2, _pool.IdleCount(_target));
        Assert.Empty(_closed);

        // The older one has idled past the timeout, the newer one not yet: only the older is closed.
        _pool.Scavenge(1_000 + (long)UpstreamPool.IdleTimeout.TotalMilliseconds + 1);
        Assert.Equal([older], _closed);
        Assert.Same(newer, _pool.Rent(_target));
        Assert.Null(_pool.Rent(_target));
    }

    [Fact]
    public void Rent_SkipsAndClosesAConnectionMarkedClosed()
    {
        var (open, gone) = (Socket(), Socket());
        _pool.Return(open, now: 1);
        _pool.Return(gone, now: 2);
        gone.MarkClosed();

        Assert.Same(open, _pool.Rent(_target));
        Assert.Equal([gone], _closed);
    }

    /// <summary>Returns the test sockets' pooled buffers.</summary>
    public void Dispose() => _sockets.ForEach(socket => socket.Release());

    /// <summary>A pooled connection with no descriptor: the pool only keeps, orders and hands back its sockets.</summary>
    private UpstreamSocket Socket()
    {
        var socket = new UpstreamSocket(-1, _target);
        _sockets.Add(socket);
        return socket;
    }
}
