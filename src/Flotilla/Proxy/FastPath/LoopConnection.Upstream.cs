using System.Buffers;
using System.Net.Sockets;
using Flotilla.Proxy.Forwarding;
using Flotilla.Proxy.Targets;

namespace Flotilla.Proxy.FastPath;

/// <summary>
/// The fast path's round trip to a task: the head rewritten for the task (<see cref="Http1Writer"/>), sent with its body
/// on a pooled connection, and the task's response relayed to the client as it arrives, its framing followed to know
/// where it ends. Errors are answered as the YARP path answers them: 502 when the task cannot be reached or breaks the
/// protocol, 504 when it does not answer within the timeout, and a closed client connection when the response fails
/// after it has started. A reused connection that the task had closed while it idled is retried once on a new one.
/// </summary>
internal sealed partial class LoopConnection
{
    private readonly PooledBufferWriter _requestBytes = new(1024);
    private readonly Http1ResponseHead _response = new();
    private ProxyRequest? _request;
    private Target? _target;
    private long _started;
    private UpstreamSocket? _upstream;
    private bool _reused;
    private int _requestSent;
    private long _deadline;
    private bool _paused;
    private bool _responseStarted;
    private bool _closeAfter;
    private bool _done;
    private bool _leftover;
    private long _remaining;
    private long _bytesOut;
    private ChunkedScanner _chunks;
    private string? _setCookie;

    /// <summary>The upstream connection this one's request is on reports events.</summary>
    public void OnUpstreamEvents(UpstreamSocket upstream, uint events)
    {
        if (upstream.Connecting)
        {
            if ((events & (Libc.EPOLLOUT | Libc.EPOLLERR | Libc.EPOLLHUP)) == 0)
            {
                return;
            }

            if (ConnectError(upstream) is { } error)
            {
                Fail(StatusCodes.Status502BadGateway, error);
                return;
            }

            upstream.Connecting = false;
            Expect(_destination!.Timeout);
        }

        if ((events & Libc.EPOLLOUT) != 0 && _requestSent < _requestBytes.WrittenCount)
        {
            SendRequest();
        }

        if (_upstream == upstream && !upstream.Closed && (events & Libc.ReadEvents) != 0)
        {
            ReadResponse();
        }
    }

    private void StartExchange()
    {
        _state = State.Exchange;
        var ledger = _forwarder.Ledger;
        var request = StartRequest(_head.ContentLength);
        if (_answer is not null)
        {
            ConsumeRequest();
            Answer(_answer);
            return;
        }

        request.Service = _destination!.Service;
        _head.ClientAddress = request.Address;
        var group = _group!;
        var target = _forwarder.Sticky.Pick(group, _head, request.Scheme, out _setCookie);
        if (target is null)
        {
            ConsumeRequest();
            Answer(StatusCodes.Status503ServiceUnavailable, TargetGroup.NoTargetMessage(request.Service), group.RetryAfter);
            return;
        }

        _target = target;
        _started = ledger.Dispatch(request, target);
        Http1Writer.WriteRequest(_requestBytes, _head, request, _peerText, _input.AsSpan(_total - (int)_head.ContentLength, (int)_head.ContentLength));
        ConsumeRequest();
        _responseStarted = false;
        Dispatch(_loop.Pool.Rent(target));
    }

    /// <summary>The routed request enters the ledger, to be counted and logged when it ends; <paramref name="bytesIn"/> of its body are in.</summary>
    private ProxyRequest StartRequest(long bytesIn)
    {
        var request = _request = _forwarder.Ledger.Start(_listener, _head, _peer);
        request.Rule = _rule;
        request.BytesIn = bytesIn;
        return request;
    }

    /// <summary>Sends the request on <paramref name="upstream"/>, or on a new connection when it is null.</summary>
    private void Dispatch(UpstreamSocket? upstream)
    {
        _reused = upstream is not null;
        if (upstream is null)
        {
            upstream = Connect(_target!, out var error);
            if (upstream is null)
            {
                Fail(StatusCodes.Status502BadGateway, error!);
                return;
            }
        }

        _upstream = upstream;
        upstream.Owner = this;
        upstream.Filled = 0;
        _requestSent = 0;
        _paused = false;
        if (upstream.Connecting)
        {
            Expect(FastPathForwarder.ConnectTimeout);
            return;
        }

        Expect(_destination!.Timeout);
        _loop.SendAfterBatch(this);
    }

    /// <summary>Sends what is still unsent of the request, unless its exchange ended before the loop got to it.</summary>
    public void SendPendingRequest()
    {
        if (!Closed && _upstream is { Closed: false, Connecting: false })
        {
            SendRequest();
        }
    }

    private unsafe UpstreamSocket? Connect(Target target, out Exception? error)
    {
        error = null;
        var fd = Libc.socket(Libc.AF_INET, Libc.SOCK_STREAM | Libc.SOCK_NONBLOCK | Libc.SOCK_CLOEXEC, 0);
        if (fd < 0)
        {
            error = Libc.Error();
            return null;
        }

        Libc.SetNoDelay(fd);
        var address = Libc.Loopback(target.Port);
        var connected = Libc.connect(fd, &address, (uint)sizeof(Libc.SockAddrIn));
        if (connected < 0 && Libc.LastError != Libc.EINPROGRESS)
        {
            error = Libc.Error();
            Libc.close(fd);
            return null;
        }

        var upstream = new UpstreamSocket(fd, target) { Connecting = connected < 0 };
        _loop.Add(upstream);
        return upstream;
    }

    private static unsafe SocketException? ConnectError(UpstreamSocket upstream)
    {
        var error = 0;
        var length = (uint)sizeof(int);
        if (Libc.getsockopt(upstream.Fd, Libc.SOL_SOCKET, Libc.SO_ERROR, &error, &length) < 0)
        {
            return Libc.Error();
        }

        return error == 0 ? null : new SocketException(error);
    }

    private unsafe void SendRequest()
    {
        var upstream = _upstream!;
        while (_requestSent < _requestBytes.WrittenCount)
        {
            nint n;
            fixed (byte* bytes = _requestBytes.WrittenSpan)
            {
                n = Libc.send(upstream.Fd, bytes + _requestSent, _requestBytes.WrittenCount - _requestSent, Libc.MSG_NOSIGNAL);
            }

            if (n > 0)
            {
                _requestSent += (int)n;
            }
            else if (n < 0 && Libc.WouldBlock)
            {
                return; // EPOLLOUT sends the rest
            }
            else
            {
                UpstreamEnded(Libc.Error());
                return;
            }
        }
    }

    private unsafe void ReadResponse()
    {
        while (!_paused && _upstream is { } upstream)
        {
            var space = UpstreamSocket.BufferSize - upstream.Filled;
            nint n;
            fixed (byte* buffer = upstream.Buffer)
            {
                n = Libc.recv(upstream.Fd, buffer + upstream.Filled, space, 0);
            }

            if (n > 0)
            {
                upstream.Filled += (int)n;
                Expect(_destination!.Timeout);
                if (!Relay(upstream) || (n < space && !upstream.HungUp))
                {
                    return;
                }
            }
            else if (n < 0 && Libc.WouldBlock)
            {
                return;
            }
            else
            {
                UpstreamEnded(n == 0 ? null : Libc.Error());
                return;
            }
        }
    }

    /// <summary>The client has taken what was pending: relaying goes on.</summary>
    private void ResumeRelay()
    {
        if (_paused)
        {
            _paused = false;
            Expect(_destination!.Timeout);
            ReadResponse(); // edge-triggered: what arrived while paused raises no new event
        }
    }

    /// <summary>Relays what the upstream buffer holds of the response.</summary>
    /// <returns>Whether to read on.</returns>
    private bool Relay(UpstreamSocket upstream)
    {
        var buffer = upstream.Buffer;
        var start = 0;
        if (!_responseStarted)
        {
            try
            {
                if (!ParseHead(upstream))
                {
                    return true;
                }
            }
            catch (InvalidDataException exception)
            {
                Fail(StatusCodes.Status502BadGateway, exception);
                return false;
            }

            start = _response.Length;
        }

        var available = upstream.Filled - start;
        var take = _response.Framing switch
        {
            BodyFraming.ContentLength => (int)Math.Min(available, _remaining),
            BodyFraming.Chunked => _chunks.Advance(buffer.AsSpan(start, available)),
            BodyFraming.UntilClose => available,
            _ => 0,
        };
        _remaining -= take;
        _done |= _response.Framing switch
        {
            BodyFraming.ContentLength => _remaining == 0,
            BodyFraming.Chunked => _chunks.Done,
            _ => false,
        };
        _leftover |= take < available;
        _output.Write(buffer.AsSpan(start, take));
        _bytesOut += take;
        upstream.Filled = 0;

        FlushOutput();
        if (Closed)
        {
            return false;
        }

        if (_done)
        {
            Finish(closeUpstream: false);
            return false;
        }

        _paused = HasOutput; // resumed by FlushOutput once the client has taken it
        if (_paused)
        {
            // The task's timeout is not the client's: a client may read slowly, but not stop for longer than this.
            Expect(FastPathForwarder.StalledClientTimeout);
        }

        return !_paused;
    }

    /// <summary>Parses the response head once it is in; interim responses (100 Continue, 103) are dropped.</summary>
    /// <returns>Whether the head was complete; its bytes are then in the output, rewritten.</returns>
    private bool ParseHead(UpstreamSocket upstream)
    {
        var buffer = upstream.Buffer;
        while (true)
        {
            if (!_response.TryParse(buffer.AsSpan(0, upstream.Filled), _head.Method == HttpMethods.Head))
            {
                return false;
            }

            if (_response.StatusCode is >= 200 or 101)
            {
                break;
            }

            buffer.AsSpan(_response.Length, upstream.Filled - _response.Length).CopyTo(buffer);
            upstream.Filled -= _response.Length;
        }

        if (_response.StatusCode == 101)
        {
            throw new InvalidDataException("101 without an upgrade");
        }

        _responseStarted = true;
        _closeAfter = _head.Close || _closeRequested || _response.Framing == BodyFraming.UntilClose;
        Http1Writer.WriteResponseHead(_output, _response, buffer, _request!, _setCookie, _closeAfter);
        _request!.StatusCode = _response.StatusCode;
        _remaining = _response.ContentLength;
        _chunks = default;
        _leftover = false;
        _bytesOut = 0;
        _done = _response.Framing == BodyFraming.None;
        return true;
    }

    /// <summary>The task's connection closed (<paramref name="error"/> null) or failed.</summary>
    private void UpstreamEnded(SocketException? error)
    {
        var upstream = _upstream!;
        if (!_responseStarted && upstream.Filled == 0 && _reused)
        {
            // A reused connection the task had closed while it idled (it answered nothing): once more on a new one.
            DropUpstream();
            Dispatch(null);
        }
        else if (!_responseStarted)
        {
            Fail(StatusCodes.Status502BadGateway, (Exception?)error ?? new InvalidDataException("the task closed the connection without a complete response head"));
        }
        else if (error is null && _response.Framing == BodyFraming.UntilClose)
        {
            Finish(closeUpstream: true);
        }
        else
        {
            Break((Exception?)error ?? new InvalidDataException("the task closed the connection mid-body"));
        }
    }

    private void CheckExchangeDeadline(long now)
    {
        if (_upstream is null || now < _deadline)
        {
            return;
        }

        if (_upstream.Connecting)
        {
            Fail(StatusCodes.Status502BadGateway, new TimeoutException("connecting to the task timed out"));
        }
        else if (!_responseStarted)
        {
            Fail(StatusCodes.Status504GatewayTimeout, new TimeoutException("the task did not answer in time"));
        }
        else
        {
            Break(new TimeoutException(_paused ? "the client stopped reading the response" : "the task's response stalled"));
        }
    }

    /// <summary>The exchange's next step (connected, the task's next bytes, the client taking some) is due within <paramref name="limit"/>.</summary>
    private void Expect(TimeSpan limit) => _deadline = Environment.TickCount64 + (long)limit.TotalMilliseconds;

    /// <summary>The body's bytes relayed so far: for chunked responses, the data without the framing.</summary>
    private long BodyBytesOut => _response.Framing == BodyFraming.Chunked ? _chunks.DataBytes : _bytesOut;

    /// <summary>The response was relayed to its end.</summary>
    private void Finish(bool closeUpstream)
    {
        var upstream = _upstream!;
        _upstream = null;
        _request!.BytesOut = BodyBytesOut;
        if (closeUpstream || _response.Close || _leftover || _response.Framing == BodyFraming.UntilClose)
        {
            upstream.Owner = null;
            _loop.CloseUpstream(upstream);
        }
        else
        {
            _loop.Pool.Return(upstream, Environment.TickCount64);
        }

        RequestDone(_closeAfter);
    }

    /// <summary>No response has started: the client gets the load balancer's own error.</summary>
    private void Fail(int status, Exception exception)
    {
        DropUpstream();
        _forwarder.LogUpstreamFailed(_request!.RequestId, _target!, exception);
        Answer(status);
    }

    /// <summary>The response had started: the client must see it break, not end.</summary>
    private void Break(Exception exception)
    {
        _forwarder.LogUpstreamFailed(_request!.RequestId, _target!, exception);
        _request.BytesOut = BodyBytesOut;
        Close();
    }

    /// <summary>The request is over: its target's bookkeeping settled, and it is counted and logged.</summary>
    private void EndRequest()
    {
        _requestBytes.Reset(); // the task has the request, or will not get it
        if (_request is not { } request)
        {
            return;
        }

        _request = null;
        if (_target is { } target)
        {
            _target = null;
            _forwarder.Ledger.Settle(request, _group!, _started, request.StatusCode);
        }

        _forwarder.Ledger.Complete(request);
    }

    private void DropUpstream()
    {
        if (_upstream is { } upstream)
        {
            _upstream = null;
            upstream.Owner = null;
            _loop.CloseUpstream(upstream);
        }
    }
}
