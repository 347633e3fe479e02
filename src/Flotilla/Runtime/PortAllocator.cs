using System.Net;
using System.Net.Sockets;

namespace Flotilla.Runtime;

/// <summary>
/// Free ports on 127.0.0.1 for tasks. The OS picks a free port; the allocator also remembers which ones its tasks hold,
/// so that two tasks never get the same one while both are alive.
/// </summary>
internal sealed class PortAllocator
{
    private readonly Lock _lock = new();
    private readonly HashSet<int> _inUse = [];

    public int Allocate()
    {
        for (var attempt = 0; attempt < 100; attempt++)
        {
            using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
            var port = ((IPEndPoint)socket.LocalEndPoint!).Port;
            lock (_lock)
            {
                if (_inUse.Add(port))
                {
                    return port;
                }
            }
        }

        throw new InvalidOperationException("no free port on 127.0.0.1 after 100 attempts");
    }

    public void Release(int port)
    {
        lock (_lock)
        {
            _inUse.Remove(port);
        }
    }
}
