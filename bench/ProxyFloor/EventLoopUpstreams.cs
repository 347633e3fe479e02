// net-epoll's upstream side: pooled keep-alive connections to the backends and the relay of responses.
using System.Buffers.Text;
using System.Runtime.InteropServices;
using System.Text;

internal sealed unsafe partial class EventLoop
{
    private Upstream? Acquire()
    {
        var backend = _next = (_next + 1) % backends.Length;
        while (_idle[backend].TryPop(out var idle))
        {
            if (!idle.Closed) return idle;
        }

        var fd = Libc.socket(Libc.AF_INET, Libc.SOCK_STREAM | Libc.SOCK_NONBLOCK | Libc.SOCK_CLOEXEC, 0);
        if (fd < 0) return null;
        SetOption(fd, Libc.IPPROTO_TCP, Libc.TCP_NODELAY);
        var address = Libc.Loopback(backends[backend]);
        var connected = Libc.connect(fd, &address, (uint)sizeof(Libc.SockAddrIn));
        if (connected < 0 && Marshal.GetLastPInvokeError() != Libc.EINPROGRESS)
        {
            Libc.close(fd);
            return null;
        }

        var upstream = new Upstream(fd, backend) { Connecting = connected < 0, Reusable = true };
        Track(upstream);
        Register(fd, Libc.EPOLLIN | Libc.EPOLLOUT | Libc.EPOLLRDHUP | Libc.EPOLLET);
        return upstream;
    }

    private void OnUpstream(Upstream upstream, uint ready)
    {
        if (upstream.Connecting)
        {
            if ((ready & (Libc.EPOLLOUT | Libc.EPOLLERR | Libc.EPOLLHUP)) == 0) return;
            int error = 0;
            var length = (uint)sizeof(int);
            if (Libc.getsockopt(upstream.Fd, Libc.SOL_SOCKET, Libc.SO_ERROR, &error, &length) < 0 || error != 0)
            {
                UpstreamFailed(upstream);
                return;
            }

            upstream.Connecting = false;
        }

        if ((ready & Libc.EPOLLOUT) != 0 && upstream.OutStart < upstream.OutLen) FlushUpstream(upstream);
        if (!upstream.Closed && (ready & (Libc.EPOLLIN | Libc.EPOLLRDHUP | Libc.EPOLLHUP | Libc.EPOLLERR)) != 0) ReadUpstream(upstream);
    }

    private void FlushUpstream(Upstream upstream)
    {
        while (upstream.OutStart < upstream.OutLen)
        {
            var n = (int)Libc.send(upstream.Fd, upstream.Out + upstream.OutStart, upstream.OutLen - upstream.OutStart, Libc.MSG_NOSIGNAL);
            if (n > 0)
            {
                upstream.OutStart += n;
            }
            else if (n < 0 && Marshal.GetLastPInvokeError() == Libc.EAGAIN)
            {
                return; // EPOLLOUT sends the rest
            }
            else
            {
                UpstreamFailed(upstream);
                return;
            }
        }
    }

    private void ReadUpstream(Upstream upstream)
    {
        if (upstream.Client is null)
        {
            // Idle: the backend closed it (or sent bytes nobody asked for). Either way it is no longer usable.
            var scratch = stackalloc byte[64];
            var n = (int)Libc.recv(upstream.Fd, scratch, 64, 0);
            if (n >= 0 || Marshal.GetLastPInvokeError() != Libc.EAGAIN) CloseUpstream(upstream);
            return;
        }

        while (!upstream.Paused)
        {
            var space = Connection.BufferSize - upstream.InLen;
            var n = (int)Libc.recv(upstream.Fd, upstream.In + upstream.InLen, space, 0);
            if (n > 0)
            {
                upstream.InLen += n;
                if (!Relay(upstream) || n < space) return;
            }
            else if (n < 0 && Marshal.GetLastPInvokeError() == Libc.EAGAIN)
            {
                return;
            }
            else
            {
                UpstreamFailed(upstream); // closed before its response ended
                return;
            }
        }
    }

    /// <summary>Relays what the upstream buffer holds of the response; false once the exchange stops reading.</summary>
    private bool Relay(Upstream upstream)
    {
        var bytes = new ReadOnlySpan<byte>(upstream.In, upstream.InLen);
        var take = 0;
        if (!upstream.HeadParsed)
        {
            var headEnd = bytes.IndexOf("\r\n\r\n"u8);
            if (headEnd < 0)
            {
                if (upstream.InLen < Connection.BufferSize) return true;
                UpstreamFailed(upstream);
                return false;
            }

            if (!ParseResponseHead(upstream, bytes[..(headEnd + 4)]))
            {
                UpstreamFailed(upstream);
                return false;
            }

            take = headEnd + 4;
        }

        if (upstream.Remaining > 0)
        {
            var count = (int)Math.Min(upstream.Remaining, bytes.Length - take);
            upstream.Remaining -= count;
            take += count;
        }
        else if (upstream.Remaining < 0)
        {
            var count = upstream.Chunks.Scan(bytes[take..]);
            if (count < 0)
            {
                UpstreamFailed(upstream);
                return false;
            }

            take += count;
        }

        var done = upstream.Remaining == 0 || upstream.Chunks.Done;
        if (take < upstream.InLen) upstream.Reusable = false; // bytes past the response's end: not HTTP we trust
        upstream.InLen = 0;
        var client = upstream.Client!;
        if (!SendToClient(client, upstream.In, take))
        {
            if (client.Closed) return false;
            if (!done)
            {
                upstream.Paused = true; // resumed by FlushClient
                return false;
            }
        }

        if (done) ExchangeDone(upstream);
        return !done;
    }

    private static bool ParseResponseHead(Upstream upstream, ReadOnlySpan<byte> head)
    {
        // "HTTP/1.1 200 OK": the status code is bytes 9 to 11.
        if (head.Length < 12 || !head.StartsWith("HTTP/1."u8) || !Utf8Parser.TryParse(head.Slice(9, 3), out int status, out _)) return false;
        var lineEnd = head.IndexOf("\r\n"u8);
        long contentLength = -1;
        var chunked = false;
        var fields = new HeaderLines(head[(lineEnd + 2)..]);
        while (fields.MoveNext())
        {
            var name = fields.Name;
            var value = fields.Value;
            if (name.Length == 14 && Ascii.EqualsIgnoreCase(name, "Content-Length"u8))
            {
                if (!Utf8Parser.TryParse(value, out contentLength, out var used) || used != value.Length || contentLength < 0) return false;
            }
            else if (name.Length == 17 && Ascii.EqualsIgnoreCase(name, "Transfer-Encoding"u8))
            {
                chunked = Ascii.EqualsIgnoreCase(value, "chunked"u8);
            }
            else if (name.Length == 10 && Ascii.EqualsIgnoreCase(name, "Connection"u8) && Ascii.EqualsIgnoreCase(value, "close"u8))
            {
                upstream.Reusable = false;
            }
        }

        upstream.HeadParsed = true;
        if (status < 200) return false; // 1xx: not relayed by this floor
        if (upstream.IsHead || status is 204 or 304) upstream.Remaining = 0;
        else if (chunked) upstream.Remaining = -1;
        else if (contentLength >= 0) upstream.Remaining = contentLength;
        else return false; // a body delimited by closing the connection: not relayed by this floor
        return true;
    }

    private void ExchangeDone(Upstream upstream)
    {
        var client = upstream.Client!;
        client.Up = null;
        upstream.Reset();
        if (upstream.Reusable) _idle[upstream.Backend].Push(upstream);
        else CloseUpstream(upstream);

        if (client.CloseAfterResponse)
        {
            if (client.PendingLen == 0) CloseClient(client);
            else client.CloseAfterFlush = true;
        }
        else if (client.PendingLen == 0)
        {
            ClientReady(client);
        }
    }

    private void UpstreamFailed(Upstream upstream)
    {
        var client = upstream.Client;
        var answered = upstream.HeadParsed;
        upstream.Client = null;
        CloseUpstream(upstream);
        if (client is null || client.Closed) return;
        client.Up = null;
        if (answered) CloseClient(client); // part of the response has gone: the client can only see it end early
        else Refuse(client, BadGateway);
    }

    private void CloseUpstream(Upstream upstream)
    {
        if (!upstream.Closed) Close(upstream);
    }
}
