using System.Net;
using System.Net.Sockets;
using Flotilla.Proxy.FastPath;

namespace Flotilla.Tests.Proxy.FastPath;

public sealed class UpstreamPoolTests
{
    [Fact]
    public async Task Rent_MostRecentlyReturnedFirst_AndIdleOnesAreClosedAfterTheTimeout()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        var target = Targets.New("t1", Targets.Time(), port: port);
        using var pool = new UpstreamPool();
        var older = await UpstreamConnection.ConnectAsync(port, TestContext.Current.CancellationToken);
        var newer = await UpstreamConnection.ConnectAsync(port, TestContext.Current.CancellationToken);

        Assert.Null(pool.Rent(target));
        pool.Return(target, older);
        pool.Return(target, newer);
        Assert.Same(newer, pool.Rent(target));
        pool.Return(target, newer);

        pool.Scavenge(Environment.TickCount64);
        Assert.Equal(2, pool.IdleCount(target));

        pool.Scavenge(Environment.TickCount64 + (long)UpstreamPool.IdleTimeout.TotalMilliseconds + 1);
        Assert.Equal(0, pool.IdleCount(target));
        Assert.Null(pool.Rent(target));
        Assert.Throws<ObjectDisposedException>(() => older.Socket.Send(new byte[1]));
    }
}
