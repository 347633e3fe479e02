using System.Collections.Concurrent;
using System.Net;

namespace Flotilla.Proxy.FastPath;

/// <summary>A socket registered with an <see cref="EventLoop"/>, told the events the kernel reports for it.</summary>
internal abstract class LoopSocket(int fd)
{
    public int Fd { get; } = fd;

    /// <summary>Closed, or handed to Kestrel: the loop no longer serves it.</summary>
    public bool Closed { get; private set; }

    public abstract void OnEvents(uint events);

    public void MarkClosed() => Closed = true;
}

/// <summary>
/// One of the fast path's event loops, built as HAProxy's and nginx's are: a thread with its own epoll instance that
/// accepts connections from the fast-path listeners' sockets (shared by all loops, each woken alone), serves each of
/// them on non-blocking sockets registered once (edge-triggered), and keeps its own pool of keep-alive connections to
/// the tasks. Nothing on a request's path leaves the thread: no thread pool, no tasks, no locks.
/// </summary>
/// <remarks>
/// A loop touches its sockets and connections only on its own thread; other threads reach it through <see cref="Post"/>.
/// Every 100 ms it checks its connections' deadlines (keep-alive, body and upstream timeouts) and its pool's idle
/// connections.
/// </remarks>
internal sealed unsafe class EventLoop
{
    private const int MaxEvents = 256;
    private const int TickMilliseconds = 100;

    private readonly ILogger _logger;
    private readonly int _epoll;
    private readonly int _wake;
    private readonly Thread _thread;
    private readonly ConcurrentQueue<Action> _posted = new();
    private readonly TaskCompletionSource _ended = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly HashSet<LoopConnection> _connections = [];
    private readonly List<LoopConnection> _ticking = [];
    private readonly List<ListenSocket> _listeners = [];
    private readonly List<LoopConnection> _sends = [];
    private LoopSocket?[] _byFd = new LoopSocket?[1024];
    private volatile bool _stopping;
    private bool _acceptPaused;
    private long _nextTick;
    private int _open;

    public EventLoop(FastPathForwarder forwarder, int index, ILogger logger)
    {
        Forwarder = forwarder;
        _logger = logger;
        _epoll = Libc.epoll_create1(Libc.EPOLL_CLOEXEC);
        _wake = Libc.eventfd(0, Libc.EFD_NONBLOCK | Libc.EFD_CLOEXEC);
        if (_epoll < 0 || _wake < 0)
        {
            throw Libc.Error();
        }

        Register(_wake, Libc.EPOLLIN | Libc.EPOLLET);
        Pool = new UpstreamPool(CloseUpstream);
        _thread = new Thread(Run) { IsBackground = true, Name = $"flotilla loop {index}" };
    }

    public FastPathForwarder Forwarder { get; }

    /// <summary>Completes when the loop's thread ends: after a stop, with its last connection.</summary>
    public Task Ended => _ended.Task;

    public UpstreamPool Pool { get; }

    /// <summary>Client connections this loop serves or has been given to serve (read from any thread).</summary>
    public int OpenConnections => Volatile.Read(ref _open);

    /// <summary>Stopping: it takes no new connection.</summary>
    public bool Stopping => _stopping;

    /// <summary>Accepts from <paramref name="fd"/> (a listening socket, non-blocking) for <paramref name="listener"/>; before <see cref="Start"/>.</summary>
    public void AddListener(ListenerRuntime listener, int fd)
    {
        var socket = new ListenSocket(this, fd, listener);
        _listeners.Add(socket);
        Track(socket);
        Register(fd, Libc.EPOLLIN | Libc.EPOLLEXCLUSIVE);
    }

    public void Start() => _thread.Start();

    /// <summary>Runs <paramref name="action"/> on the loop's thread.</summary>
    public void Post(Action action)
    {
        _posted.Enqueue(action);
        ulong one = 1;
        Libc.write(_wake, &one, sizeof(ulong));
    }

    /// <summary>Stops accepting; idle connections close now, busy ones after their response. The loop ends with its last connection.</summary>
    public void Stop()
    {
        _stopping = true;
        Post(StopAccepting);
    }

    /// <summary>
    /// Takes this loop's listener sockets out of its epoll: at the connection limit, or when accepting fails for want of
    /// descriptors (the sockets are level-triggered: left in, they would wake the loop at once, again and again).
    /// </summary>
    private void PauseAccepting()
    {
        if (!_acceptPaused)
        {
            _acceptPaused = true;
            foreach (var listener in _listeners)
            {
                Libc.epoll_ctl(_epoll, Libc.EPOLL_CTL_DEL, listener.Fd, null);
            }
        }
    }

    /// <summary>Puts the listener sockets back once the limit leaves room: when one of this loop's connections closes, or at the tick.</summary>
    private void ResumeAccepting()
    {
        if (_acceptPaused && !_stopping && Forwarder.Budget.HasRoom)
        {
            _acceptPaused = false;
            foreach (var listener in _listeners)
            {
                Register(listener.Fd, Libc.EPOLLIN | Libc.EPOLLEXCLUSIVE);
            }
        }
    }

    private void StopAccepting()
    {
        foreach (var listener in _listeners)
        {
            Libc.epoll_ctl(_epoll, Libc.EPOLL_CTL_DEL, listener.Fd, null);
            Forget(listener);
        }

        foreach (var connection in _connections.ToList())
        {
            connection.RequestClose();
        }
    }

    /// <summary>Closes every connection now (the stop's grace period is over).</summary>
    public void Abort() => Post(() =>
    {
        foreach (var connection in _connections.ToList())
        {
            connection.Close();
        }
    });

    /// <summary>Registers a new socket for reading, writing and hang-up, edge-triggered, for its life.</summary>
    public void Add(LoopSocket socket)
    {
        Track(socket);
        Register(socket.Fd, Libc.SocketEvents);
    }

    public void CloseConnection(LoopConnection connection)
    {
        Remove(connection);
        Close(connection);
        ResumeAccepting();
    }

    public void CloseUpstream(UpstreamSocket upstream)
    {
        if (!upstream.Closed)
        {
            Close(upstream);
            upstream.Release();
        }
    }

    /// <summary>The connection leaves the loop with its descriptor open, for Kestrel to go on with.</summary>
    public void Release(LoopConnection connection)
    {
        Libc.epoll_ctl(_epoll, Libc.EPOLL_CTL_DEL, connection.Fd, null);
        Forget(connection);
        Remove(connection);
    }

    /// <summary>
    /// A connection accepted by any loop goes to the loop with the fewest, as HAProxy balances its threads: a burst of
    /// connections, all accepted by the loop that woke first, must not leave the other cores idle.
    /// </summary>
    private void Accepted(ListenerRuntime listener, int fd, IPAddress peer)
    {
        if (_stopping)
        {
            Libc.close(fd);
            Forwarder.Budget.Return();
            return;
        }

        Libc.SetNoDelay(fd);
        if (!listener.Spec.FastPath)
        {
            // The listener's fast path is off (by its spec or an apply): its new connections are Kestrel's from the start,
            // and Kestrel counts them.
            Forwarder.Budget.Return();
            Forwarder.PassOn(listener, fd, []);
            return;
        }

        var loop = Forwarder.LeastLoaded(this);
        Interlocked.Increment(ref loop._open);
        if (loop == this)
        {
            Adopt(listener, fd, peer);
        }
        else
        {
            loop.Post(() => loop.Adopt(listener, fd, peer));
        }
    }

    private void Adopt(ListenerRuntime listener, int fd, IPAddress peer)
    {
        var connection = new LoopConnection(this, fd, listener, peer);
        _connections.Add(connection);
        Add(connection);
        if (_stopping)
        {
            connection.RequestClose();
        }
    }

    /// <summary>The connection is closed, or handed to Kestrel (which counts it from then on).</summary>
    private void Remove(LoopConnection connection)
    {
        if (_connections.Remove(connection))
        {
            Interlocked.Decrement(ref _open);
            Forwarder.Budget.Return();
        }
    }

    private void Run()
    {
        var events = stackalloc Libc.EpollEvent[MaxEvents];
        _nextTick = Environment.TickCount64 + TickMilliseconds;
        while (!_stopping || OpenConnections > 0)
        {
            var n = Libc.epoll_wait(_epoll, events, MaxEvents, TickMilliseconds);
            if (n < 0 && Libc.LastError != Libc.EINTR)
            {
                _logger.LogCritical(Libc.Error(), "fast-path event loop failed in epoll_wait");
                break;
            }

            for (var i = 0; i < n; i++)
            {
                var fd = (int)events[i].Data;
                if (fd == _wake)
                {
                    RunPosted();
                }
                else if (fd < _byFd.Length && _byFd[fd] is { } socket)
                {
                    Dispatch(socket, events[i].Events);
                }
            }

            var now = Environment.TickCount64;
            if (now >= _nextTick)
            {
                _nextTick = now + TickMilliseconds;
                Tick(now);
            }

            SendRequests();
        }

        Pool.Clear();
        Libc.close(_wake);
        Libc.close(_epoll);
        _ended.SetResult();
    }

    /// <summary>Sends <paramref name="connection"/>'s request to its task once this batch of events is handled.</summary>
    /// <remarks>
    /// The requests read in one batch go out together, after it: a task's socket thread then wakes once for several,
    /// and the loop reads its batch without a send between reads. (Side by side, two Flotillas, 6 rounds of
    /// <c>wrk -t2 -c64</c>: the loop's CPU per request was lower in every round, by 7% at the median.)
    /// </remarks>
    public void SendAfterBatch(LoopConnection connection) => _sends.Add(connection);

    private void SendRequests()
    {
        for (var i = 0; i < _sends.Count; i++)
        {
            try
            {
                _sends[i].SendPendingRequest();
            }
            catch (Exception exception)
            {
                Contain(exception, _sends[i]);
            }
        }

        _sends.Clear();
    }

    private void Dispatch(LoopSocket socket, uint events)
    {
        try
        {
            socket.OnEvents(events);
        }
        catch (Exception exception)
        {
            Contain(exception, socket as LoopConnection ?? (socket as UpstreamSocket)?.Owner);
            if (socket is UpstreamSocket upstream)
            {
                CloseUpstream(upstream);
            }
        }
    }

    /// <summary>A bug must cost one connection, not the loop and every connection on it.</summary>
    private void Contain(Exception exception, LoopConnection? connection)
    {
        _logger.LogError(exception, "fast-path connection failed; closing it");
        connection?.Close();
    }

    private void RunPosted()
    {
        ulong count;
        Libc.read(_wake, &count, sizeof(ulong));
        while (_posted.TryDequeue(out var action))
        {
            try
            {
                action();
            }
            catch (Exception exception)
            {
                _logger.LogError(exception, "fast-path event loop: a posted action failed");
            }
        }
    }

    private void Tick(long now)
    {
        ResumeAccepting();
        _ticking.Clear();
        _ticking.AddRange(_connections);
        foreach (var connection in _ticking)
        {
            if (!connection.Closed)
            {
                try
                {
                    connection.OnTick(now);
                }
                catch (Exception exception)
                {
                    Contain(exception, connection);
                }
            }
        }

        Pool.Scavenge(now);
    }

    private void Track(LoopSocket socket)
    {
        if (socket.Fd >= _byFd.Length)
        {
            Array.Resize(ref _byFd, Math.Max(socket.Fd + 1, _byFd.Length * 2));
        }

        _byFd[socket.Fd] = socket;
    }

    private void Forget(LoopSocket socket)
    {
        socket.MarkClosed();
        if (_byFd[socket.Fd] == socket)
        {
            _byFd[socket.Fd] = null;
        }
    }

    private void Close(LoopSocket socket)
    {
        Forget(socket);
        Libc.close(socket.Fd); // also takes it out of the epoll set
    }

    private void Register(int fd, uint events)
    {
        var registration = new Libc.EpollEvent { Events = events, Data = (ulong)fd };
        if (Libc.epoll_ctl(_epoll, Libc.EPOLL_CTL_ADD, fd, &registration) < 0)
        {
            throw Libc.Error();
        }
    }

    /// <summary>A fast-path listener's socket, as one loop accepts from it.</summary>
    private sealed class ListenSocket(EventLoop loop, int fd, ListenerRuntime listener) : LoopSocket(fd)
    {
        public override void OnEvents(uint events)
        {
            // Level-triggered: what this batch leaves is reported again, to whichever loop is free.
            var budget = loop.Forwarder.Budget;
            for (var i = 0; i < 64; i++)
            {
                if (!budget.TryTake())
                {
                    loop.PauseAccepting();
                    budget.WarnAtLimit(listener.Name);
                    return;
                }

                Libc.SockAddrStorage peer;
                var length = (uint)sizeof(Libc.SockAddrStorage);
                var client = Libc.accept4(Fd, &peer, &length, Libc.SOCK_NONBLOCK | Libc.SOCK_CLOEXEC);
                if (client < 0)
                {
                    var error = Libc.LastError;
                    budget.Return();
                    if (Libc.OutOfResources(error))
                    {
                        loop.PauseAccepting();
                        budget.WarnCannotAccept(listener.Name, error);
                    }

                    return;
                }

                loop.Accepted(listener, client, Libc.PeerAddress(&peer));
            }
        }
    }
}
