// net-epoll: an HTTP/1.1 proxy built the way HAProxy and nginx are, to measure what that design costs in .NET: one
// thread per core, each with its own epoll instance and its own SO_REUSEPORT listener, non-blocking sockets driven by
// libc calls (edge-triggered, registered once), keep-alive upstream connections pooled per thread, and no thread
// pool, tasks, pipes or allocations on a request's path. Each request is parsed (head, Content-Length), sent to the
// next backend round robin with X-Forwarded-For/-Proto/-Host added (what bench/proxy.sh's HAProxy config adds), and
// its response is relayed as it arrives, framed by Content-Length or chunked encoding so that the upstream connection
// can be reused. Bodies up to one buffer (16 KiB); no TLS, no HTTP/2, no upgrades: a floor, not a product.
using System.Buffers.Text;
using System.Runtime.InteropServices;
using System.Text;

internal static unsafe class EventLoopProxy
{
    public static void Run(int port, int[] backends)
    {
        var threads = Enumerable.Range(0, Environment.ProcessorCount)
            .Select(i => new Thread(() => new EventLoop(port, backends).Run()) { Name = $"loop {i}", IsBackground = true })
            .ToList();
        threads.ForEach(thread => thread.Start());
        threads.ForEach(thread => thread.Join());
    }
}
internal sealed unsafe partial class EventLoop(int port, int[] backends)
{
    private const int MaxEvents = 256;
    private static readonly byte[] BadGateway = "HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"u8.ToArray();
    private static readonly byte[] BadRequest = "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"u8.ToArray();

    private readonly Stack<Upstream>[] _idle = backends.Select(_ => new Stack<Upstream>()).ToArray();
    private Connection?[] _byFd = new Connection?[4096];
    private int _epoll, _listener, _next;

    public void Run()
    {
        _epoll = Check(Libc.epoll_create1(Libc.EPOLL_CLOEXEC), "epoll_create1");
        _listener = Check(Libc.socket(Libc.AF_INET, Libc.SOCK_STREAM | Libc.SOCK_NONBLOCK | Libc.SOCK_CLOEXEC, 0), "socket");
        SetOption(_listener, Libc.SOL_SOCKET, Libc.SO_REUSEADDR);
        SetOption(_listener, Libc.SOL_SOCKET, Libc.SO_REUSEPORT);
        var address = Libc.Loopback(port);
        Check(Libc.bind(_listener, &address, (uint)sizeof(Libc.SockAddrIn)), "bind");
        Check(Libc.listen(_listener, 4096), "listen");
        Register(_listener, Libc.EPOLLIN);

        var events = stackalloc Libc.EpollEvent[MaxEvents];
        while (true)
        {
            var n = Libc.epoll_wait(_epoll, events, MaxEvents, -1);
            if (n < 0 && Marshal.GetLastPInvokeError() == Libc.EINTR) continue;
            Check(n, "epoll_wait");
            for (var i = 0; i < n; i++)
            {
                var fd = (int)events[i].Data;
                var ready = events[i].Events;
                if (fd == _listener) AcceptAll();
                else if (fd < _byFd.Length && _byFd[fd] is Client client) OnClient(client, ready);
                else if (fd < _byFd.Length && _byFd[fd] is Upstream upstream) OnUpstream(upstream, ready);
            }
        }
    }

    // --- clients -------------------------------------------------------------------------------------------------

    private void AcceptAll()
    {
        while (true)
        {
            Libc.SockAddrIn peer;
            var length = (uint)sizeof(Libc.SockAddrIn);
            var fd = Libc.accept4(_listener, &peer, &length, Libc.SOCK_NONBLOCK | Libc.SOCK_CLOEXEC);
            if (fd < 0) return; // EAGAIN: accepted everything; anything else: the next edge retries
            SetOption(fd, Libc.IPPROTO_TCP, Libc.TCP_NODELAY);
            var ip = new System.Net.IPAddress(peer.Address).ToString();
            Track(new Client(fd, Encoding.ASCII.GetBytes($"X-Forwarded-For: {ip}\r\nX-Forwarded-Proto: http\r\n")));
            Register(fd, Libc.EPOLLIN | Libc.EPOLLOUT | Libc.EPOLLRDHUP | Libc.EPOLLET);
        }
    }

    private void OnClient(Client client, uint ready)
    {
        if ((ready & Libc.EPOLLOUT) != 0 && client.PendingLen > 0) FlushClient(client);
        if (!client.Closed && (ready & (Libc.EPOLLIN | Libc.EPOLLRDHUP | Libc.EPOLLHUP | Libc.EPOLLERR)) != 0) ReadClient(client);
    }

    private void ReadClient(Client client)
    {
        client.ReadBlocked = false;
        while (true)
        {
            var space = Connection.BufferSize - client.InLen;
            if (space == 0)
            {
                client.ReadBlocked = true; // read again once a request has left the buffer
                break;
            }

            var n = (int)Libc.recv(client.Fd, client.In + client.InLen, space, 0);
            if (n > 0)
            {
                client.InLen += n;
                if (n < space) break; // a short read drained the socket; the next arrival is a new edge
            }
            else if (n < 0 && Marshal.GetLastPInvokeError() == Libc.EAGAIN)
            {
                break;
            }
            else
            {
                CloseClient(client); // closed by the client, or failed
                return;
            }
        }

        if (client.Up is null) StartRequest(client);
    }

    private void StartRequest(Client client)
    {
        var bytes = new ReadOnlySpan<byte>(client.In, client.InLen);
        var headEnd = bytes.IndexOf("\r\n\r\n"u8);
        if (headEnd < 0)
        {
            if (client.InLen == Connection.BufferSize) Refuse(client, BadRequest);
            return;
        }

        var head = bytes[..(headEnd + 4)];
        var lineEnd = head.IndexOf("\r\n"u8);
        var requestLine = head[..lineEnd];
        if (!requestLine.EndsWith(" HTTP/1.1"u8))
        {
            Refuse(client, BadRequest);
            return;
        }

        long contentLength = 0;
        ReadOnlySpan<byte> host = default;
        var fields = new HeaderLines(head[(lineEnd + 2)..]);
        while (fields.MoveNext())
        {
            var name = fields.Name;
            var value = fields.Value;
            if (name.Length == 14 && Ascii.EqualsIgnoreCase(name, "Content-Length"u8))
            {
                if (!Utf8Parser.TryParse(value, out contentLength, out var used) || used != value.Length || contentLength < 0)
                {
                    Refuse(client, BadRequest);
                    return;
                }
            }
            else if (name.Length == 17 && Ascii.EqualsIgnoreCase(name, "Transfer-Encoding"u8))
            {
                Refuse(client, BadRequest); // chunked request bodies are outside this floor
                return;
            }
            else if (name.Length == 4 && Ascii.EqualsIgnoreCase(name, "Host"u8))
            {
                host = value;
            }
            else if (name.Length == 10 && Ascii.EqualsIgnoreCase(name, "Connection"u8) && Ascii.EqualsIgnoreCase(value, "close"u8))
            {
                client.CloseAfterResponse = true;
            }
        }

        var total = head.Length + contentLength;
        if (total > Connection.BufferSize - 256 - host.Length)
        {
            Refuse(client, BadRequest);
            return;
        }

        if (client.InLen < total) return; // the body is still on its way

        var upstream = Acquire();
        if (upstream is null)
        {
            Refuse(client, BadGateway);
            return;
        }

        // The head without its empty line, the forwarding headers, the empty line, the body.
        var output = new Span<byte>(upstream.Out, Connection.BufferSize);
        var length = 0;
        Append(output, ref length, head[..^2]);
        Append(output, ref length, client.ForwardedFor);
        if (!host.IsEmpty)
        {
            Append(output, ref length, "X-Forwarded-Host: "u8);
            Append(output, ref length, host);
            Append(output, ref length, "\r\n"u8);
        }

        Append(output, ref length, "\r\n"u8);
        Append(output, ref length, bytes.Slice(head.Length, (int)contentLength));
        upstream.OutLen = length;
        upstream.IsHead = requestLine.StartsWith("HEAD "u8);
        upstream.Client = client;
        client.Up = upstream;

        client.InLen -= (int)total;
        if (client.InLen > 0) Buffer.MemoryCopy(client.In + (int)total, client.In, Connection.BufferSize, client.InLen);
        if (!upstream.Connecting) FlushUpstream(upstream);
    }

    private static void Append(Span<byte> output, ref int length, ReadOnlySpan<byte> bytes)
    {
        bytes.CopyTo(output[length..]);
        length += bytes.Length;
    }

    /// <summary>Sends bytes to the client; what the socket does not take now waits in its pending buffer.</summary>
    private bool SendToClient(Client client, byte* bytes, int count)
    {
        var sent = 0;
        while (sent < count)
        {
            var n = (int)Libc.send(client.Fd, bytes + sent, count - sent, Libc.MSG_NOSIGNAL);
            if (n > 0)
            {
                sent += n;
            }
            else if (n < 0 && Marshal.GetLastPInvokeError() == Libc.EAGAIN)
            {
                Buffer.MemoryCopy(bytes + sent, client.Pending, Connection.BufferSize, count - sent);
                client.PendingStart = 0;
                client.PendingLen = count - sent;
                return false;
            }
            else
            {
                CloseClient(client);
                return false;
            }
        }

        return true;
    }

    private void FlushClient(Client client)
    {
        while (client.PendingLen > 0)
        {
            var n = (int)Libc.send(client.Fd, client.Pending + client.PendingStart, client.PendingLen, Libc.MSG_NOSIGNAL);
            if (n > 0)
            {
                client.PendingStart += n;
                client.PendingLen -= n;
            }
            else if (n < 0 && Marshal.GetLastPInvokeError() == Libc.EAGAIN)
            {
                return;
            }
            else
            {
                CloseClient(client);
                return;
            }
        }

        if (client.CloseAfterFlush)
        {
            CloseClient(client);
        }
        else if (client.Up is { Paused: true } upstream)
        {
            upstream.Paused = false;
            ReadUpstream(upstream); // edge-triggered: what arrived while paused raises no new event
        }
        else if (client.Up is null)
        {
            ClientReady(client);
        }
    }

    private void ClientReady(Client client)
    {
        if (client.ReadBlocked) ReadClient(client);
        else StartRequest(client);
    }

    private void Refuse(Client client, byte[] response)
    {
        fixed (byte* bytes = response)
        {
            if (SendToClient(client, bytes, response.Length)) CloseClient(client);
            else if (!client.Closed) client.CloseAfterFlush = true;
        }
    }

    private void CloseClient(Client client)
    {
        if (client.Closed) return;
        if (client.Up is { } upstream) CloseUpstream(upstream); // mid-exchange: its connection cannot be reused
        Close(client);
    }
    // --- plumbing ------------------------------------------------------------------------------------------------

    private void Track(Connection connection)
    {
        if (connection.Fd >= _byFd.Length) Array.Resize(ref _byFd, Math.Max(connection.Fd + 1, _byFd.Length * 2));
        _byFd[connection.Fd] = connection;
    }

    private void Close(Connection connection)
    {
        connection.Closed = true;
        _byFd[connection.Fd] = null;
        Libc.close(connection.Fd); // also takes it out of the epoll set
    }

    private void Register(int fd, uint events)
    {
        var registration = new Libc.EpollEvent { Events = events, Data = (ulong)fd };
        Check(Libc.epoll_ctl(_epoll, Libc.EPOLL_CTL_ADD, fd, &registration), "epoll_ctl");
    }

    private static void SetOption(int fd, int level, int option)
    {
        var on = 1;
        Libc.setsockopt(fd, level, option, &on, sizeof(int));
    }

    private static int Check(int result, string call) =>
        result >= 0 ? result : throw new InvalidOperationException($"{call} failed: errno {Marshal.GetLastPInvokeError()}");
}
