using System.Buffers;
using Flotilla.Proxy.Targets;

namespace Flotilla.Proxy.FastPath;

/// <summary>A keep-alive connection from an event loop to a task, with its receive buffer.</summary>
internal sealed class UpstreamSocket(int fd, Target target) : LoopSocket(fd)
{
    /// <summary>Room for a response head (<see cref="Http1RequestHead.MaxHeadSize"/>) and what follows it in one read.</summary>
    public const int BufferSize = Http1RequestHead.MaxHeadSize + 4096;

    private byte[]? _buffer = ArrayPool<byte>.Shared.Rent(BufferSize);

    public Target Target { get; } = target;

    public byte[] Buffer => _buffer ?? throw new ObjectDisposedException(nameof(UpstreamSocket));

    /// <summary>Bytes received into <see cref="Buffer"/> and not yet relayed.</summary>
    public int Filled { get; set; }

    /// <summary>The non-blocking connect has not completed yet.</summary>
    public bool Connecting { get; set; }

    /// <summary>When it went back to the pool, as <see cref="Environment.TickCount64"/>.</summary>
    public long IdleSince { get; set; }

    /// <summary>The client connection whose request it carries; null while it idles in the pool.</summary>
    public LoopConnection? Owner { get; set; }

    /// <summary>The task has shut down its side of the connection (see <see cref="Libc.HangUpEvents"/>).</summary>
    public bool HungUp { get; private set; }

    public override void OnEvents(uint events)
    {
        HungUp |= (events & Libc.HangUpEvents) != 0;
        if (Owner is { } owner)
        {
            owner.OnUpstreamEvents(this, events);
        }
        else if ((events & Libc.ReadEvents) != 0 && !Probe())
        {
            // Idle, and the task closed it (or sent what nobody asked for): it cannot carry a request any more.
            Broken = true;
        }
    }

    /// <summary>Set when an idle connection turned out closed; the pool drops it.</summary>
    public bool Broken { get; private set; }

    public void Release()
    {
        if (_buffer is { } buffer)
        {
            _buffer = null;
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <returns>Whether an idle connection is still open with nothing to read.</returns>
    private unsafe bool Probe()
    {
        byte scratch;
        return Libc.recv(Fd, &scratch, 1, 0) < 0 && Libc.WouldBlock;
    }
}

/// <summary>
/// An event loop's idle keep-alive connections, per target: the most recently used is reused first, and one idle for
/// longer than <see cref="IdleTimeout"/> is closed (as <c>SocketsHttpHandler</c>'s pooled-connection idle timeout), as is
/// one the task has closed. Used on its loop's thread only.
/// </summary>
internal sealed class UpstreamPool(Action<UpstreamSocket> close)
{
    public static readonly TimeSpan IdleTimeout = TimeSpan.FromMinutes(1);

    private readonly Dictionary<Target, Stack<UpstreamSocket>> _idle = new(ReferenceEqualityComparer.Instance);

    /// <summary>The target's most recently used open idle connection, or null.</summary>
    public UpstreamSocket? Rent(Target target)
    {
        if (!_idle.TryGetValue(target, out var idle))
        {
            return null;
        }

        while (idle.TryPop(out var connection))
        {
            if (!connection.Broken && !connection.Closed)
            {
                return connection;
            }

            close(connection);
        }

        return null;
    }

    /// <summary>Takes back a connection whose last response was read to its end.</summary>
    public void Return(UpstreamSocket connection, long now)
    {
        connection.IdleSince = now;
        connection.Owner = null;
        connection.Filled = 0;
        if (!_idle.TryGetValue(connection.Target, out var idle))
        {
            _idle[connection.Target] = idle = new Stack<UpstreamSocket>();
        }

        idle.Push(connection);
    }

    /// <summary>Closes connections idle since before <paramref name="now"/> less <see cref="IdleTimeout"/>, and broken ones.</summary>
    public void Scavenge(long now)
    {
        var cutoff = now - (long)IdleTimeout.TotalMilliseconds;
        List<Target>? empty = null;
        foreach (var (target, idle) in _idle)
        {
            if (idle.Any(c => c.IdleSince < cutoff || c.Broken))
            {
                // Oldest at the bottom: keep the recent ones in their order, close the rest.
                var kept = idle.Where(c => c.IdleSince >= cutoff && !c.Broken).Reverse().ToList();
                foreach (var connection in idle.Where(c => c.IdleSince < cutoff || c.Broken))
                {
                    close(connection);
                }

                idle.Clear();
                kept.ForEach(idle.Push);
            }

            if (idle.Count == 0)
            {
                (empty ??= []).Add(target);
            }
        }

        empty?.ForEach(target => _idle.Remove(target));
    }

    /// <summary>Closes every idle connection (the loop is ending).</summary>
    public void Clear() => Scavenge(long.MaxValue);

    internal int IdleCount(Target target) => _idle.TryGetValue(target, out var idle) ? idle.Count : 0;
}
