using System.Buffers;
using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using Flotilla.Proxy.Targets;

namespace Flotilla.Proxy.FastPath;

/// <summary>A keep-alive connection from the fast path to a task, with its receive buffer.</summary>
internal sealed class UpstreamConnection : IDisposable
{
    /// <summary>Room for a response head (<see cref="Http1RequestHead.MaxHeadSize"/>) and what follows it in one read.</summary>
    public const int BufferSize = Http1RequestHead.MaxHeadSize + 4096;

    private int _disposed;

    private UpstreamConnection(Socket socket)
    {
        Socket = socket;
    }

    public Socket Socket { get; }

    public byte[] Buffer { get; } = ArrayPool<byte>.Shared.Rent(BufferSize);

    /// <summary>When it went back to the pool, as <see cref="Environment.TickCount64"/>.</summary>
    public long IdleSince { get; set; }

    public static async ValueTask<UpstreamConnection> ConnectAsync(int port, CancellationToken cancellationToken)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            await socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, port), cancellationToken);
            return new UpstreamConnection(socket);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            Socket.Dispose();
            ArrayPool<byte>.Shared.Return(Buffer);
        }
    }
}

/// <summary>
/// The fast path's idle keep-alive connections, per target: the most recently used is reused first, and a connection
/// idle for longer than <see cref="IdleTimeout"/> is closed (as <c>SocketsHttpHandler</c>'s pooled-connection idle
/// timeout). Targets that are gone leave the pool with their last connection.
/// </summary>
internal sealed class UpstreamPool : IDisposable
{
    public static readonly TimeSpan IdleTimeout = TimeSpan.FromMinutes(1);

    private readonly ConcurrentDictionary<Target, Idle> _idle = new(ReferenceEqualityComparer.Instance);
    private readonly Timer _scavenger;

    public UpstreamPool()
    {
        _scavenger = new Timer(static state => ((UpstreamPool)state!).Scavenge(Environment.TickCount64), this, TimeSpan.FromSeconds(10), TimeSpan.FromSeconds(10));
    }

    /// <summary>The target's most recently used idle connection, or null.</summary>
    public UpstreamConnection? Rent(Target target)
    {
        if (!_idle.TryGetValue(target, out var idle))
        {
            return null;
        }

        lock (idle)
        {
            return idle.Connections.Count > 0 ? idle.Connections.Pop() : null;
        }
    }

    /// <summary>Takes back a connection whose last response was read to its end.</summary>
    public void Return(Target target, UpstreamConnection connection)
    {
        connection.IdleSince = Environment.TickCount64;
        while (true)
        {
            var idle = _idle.GetOrAdd(target, static _ => new Idle());
            lock (idle)
            {
                if (!idle.Removed)
                {
                    idle.Connections.Push(connection);
                    return;
                }
            }
        }
    }

    /// <summary>Closes connections idle since before <paramref name="now"/> less <see cref="IdleTimeout"/>.</summary>
    internal void Scavenge(long now)
    {
        var cutoff = now - (long)IdleTimeout.TotalMilliseconds;
        foreach (var (target, idle) in _idle)
        {
            List<UpstreamConnection> expired = [];
            lock (idle)
            {
                // Oldest at the bottom: keep the recent ones, close the rest.
                var kept = idle.Connections.Where(c => c.IdleSince >= cutoff).Reverse().ToList();
                expired.AddRange(idle.Connections.Where(c => c.IdleSince < cutoff));
                idle.Connections.Clear();
                kept.ForEach(idle.Connections.Push);
                if (idle.Connections.Count == 0)
                {
                    idle.Removed = true;
                    _idle.TryRemove(target, out _);
                }
            }

            expired.ForEach(c => c.Dispose());
        }
    }

    internal int IdleCount(Target target) => _idle.TryGetValue(target, out var idle) ? idle.Connections.Count : 0;

    public void Dispose()
    {
        _scavenger.Dispose();
        Scavenge(long.MaxValue);
    }

    private sealed class Idle
    {
        public Stack<UpstreamConnection> Connections { get; } = new();

        public bool Removed { get; set; }
    }
}
