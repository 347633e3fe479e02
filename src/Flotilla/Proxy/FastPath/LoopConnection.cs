using System.Buffers;
using System.Net;
using System.Text;
using Flotilla.Proxy.Routing;
using Flotilla.Proxy.Targets;

namespace Flotilla.Proxy.FastPath;

/// <summary>
/// One client connection on the fast path, served by its <see cref="EventLoop"/>: reads a request head, routes it,
/// waits for its (small) body, forwards it to a task and relays the response (LoopConnection.Upstream.cs), then the
/// next request, until the client closes, asks to close or idles out — or sends a request the fast path does not take,
/// when the connection goes on in Kestrel's HTTP stack from that request, with its bytes unread.
/// </summary>
internal sealed unsafe partial class LoopConnection : LoopSocket
{
    private readonly EventLoop _loop;
    private readonly FastPathForwarder _forwarder;
    private readonly ListenerRuntime _listener;
    private readonly IPAddress _peer;
    private readonly string _peerText;
    private readonly Http1RequestHead _head = new();
    private readonly PooledBufferWriter _output = new(4096);
    private int _outputSent;
    private byte[] _input = [];
    private int _inputLength;
    private bool _readBlocked;
    private bool _inputEnded;
    private bool _hungUp;
    private State _state;
    private long _since;
    private bool _closeRequested;
    private bool _continuePending;

    // The request being served.
    private int _total;
    private CompiledRule? _rule;
    private CompiledAction? _answer;
    private ForwardPlan.Destination? _destination;
    private TargetGroup? _group;

    public LoopConnection(EventLoop loop, int fd, ListenerRuntime listener, IPAddress peer)
        : base(fd)
    {
        _loop = loop;
        _forwarder = loop.Forwarder;
        _listener = listener;
        _peer = peer;
        _peerText = peer.ToString();
        _since = Environment.TickCount64;
    }

    private enum State
    {
        /// <summary>Waiting for a request (since <see cref="_since"/>).</summary>
        Idle,

        /// <summary>Part of a request head is in; waiting for the rest (since <see cref="_since"/>).</summary>
        Head,

        /// <summary>The head is in and routed; waiting for the rest of the body (since <see cref="_since"/>).</summary>
        Body,

        /// <summary>The request is with a task, or its response is being relayed.</summary>
        Exchange,

        /// <summary>The last response is being sent; then the connection closes.</summary>
        Closing,
    }

    private bool HasOutput => _outputSent < _output.WrittenCount;

    public override void OnEvents(uint events)
    {
        if ((events & Libc.EPOLLOUT) != 0 && HasOutput)
        {
            FlushOutput();
        }

        if (!Closed && (events & Libc.ReadEvents) != 0)
        {
            _hungUp |= (events & Libc.HangUpEvents) != 0;
            Read();
        }
    }

    /// <summary>Checks the deadline of whatever the connection waits for.</summary>
    public void OnTick(long now)
    {
        var waited = now - _since;
        var stalled = (long)FastPathForwarder.StalledClientTimeout.TotalMilliseconds;
        switch (_state)
        {
            // Idle, or its last response not taken by the client for as long.
            case State.Idle when waited > (HasOutput ? stalled : _forwarder.KeepAliveTimeout):
            case State.Closing when waited > stalled:
                Close();
                break;
            case State.Head or State.Body when waited > _forwarder.RequestTimeout:
                RequestTimedOut();
                break;
            case State.Exchange:
                CheckExchangeDeadline(now);
                break;
        }
    }

    /// <summary>The server is stopping: an idle connection closes now, a busy one after its response.</summary>
    public void RequestClose()
    {
        _closeRequested = true;
        if (_state == State.Idle && !HasOutput)
        {
            Close();
        }
    }

    /// <summary>Closes the connection; a request in progress is cut short (its task connection closed) and still counted.</summary>
    public void Close()
    {
        if (Closed)
        {
            return;
        }

        DropUpstream();
        EndRequest();
        ReturnInput();
        _output.Reset();
        _loop.CloseConnection(this);
    }

    private void Read()
    {
        _readBlocked = false;
        if (_input.Length == 0)
        {
            // Rented for as long as the connection holds unserved bytes: an idle keep-alive connection holds none.
            _input = ArrayPool<byte>.Shared.Rent(UpstreamSocket.BufferSize);
        }

        while (true)
        {
            var space = _input.Length - _inputLength;
            if (space == 0)
            {
                // The buffer holds a whole request and more (pipelined): read on once a request has left it.
                _readBlocked = true;
                break;
            }

            nint n;
            fixed (byte* input = _input)
            {
                n = Libc.recv(Fd, input + _inputLength, space, 0);
            }

            if (n > 0)
            {
                _inputLength += (int)n;
                if (n < space && !_hungUp)
                {
                    break; // a short read drained the socket; the next bytes raise a new edge
                }
            }
            else if (n == 0)
            {
                // The client has sent all it will (a half-close): what it sent is still answered, as HAProxy does.
                _inputEnded = true;
                break;
            }
            else if (!Libc.WouldBlock)
            {
                Close(); // the connection failed
                return;
            }
            else
            {
                break;
            }
        }

        if (_state is State.Idle or State.Head or State.Body && !HasOutput)
        {
            Serve();
        }
    }

    /// <summary>Takes the next request from the input: routes its head, waits for its body, forwards it.</summary>
    private void Serve()
    {
        if (_state is State.Idle or State.Head)
        {
            if (_inputLength == 0)
            {
                ReturnInput();
                if (_inputEnded)
                {
                    Close();
                }

                return;
            }

            var headLength = _head.Load(_input, _inputLength);
            if (headLength < 0 && _inputLength < Http1RequestHead.MaxHeadSize && !_inputEnded)
            {
                // The head comes in more than one segment (large cookies, a slow client): wait for the rest, within
                // the time Kestrel gives a request's headers.
                if (_state == State.Idle)
                {
                    _state = State.Head;
                    _since = Environment.TickCount64;
                }

                return;
            }

            var declined = headLength < 0 ? (_inputEnded ? "client ended before the request head" : "request head over 16 KiB")
                : _head.Parse(headLength) ?? _forwarder.Route(_listener, _head, out _rule, out _answer, out _destination, out _group);
            if (declined is not null)
            {
                HandOver(declined);
                return;
            }

            _total = headLength + (int)_head.ContentLength;
            _state = State.Body;
            _since = Environment.TickCount64;
            if (_total > _input.Length)
            {
                ResizeInput(_total);
            }

            if (_head.ExpectContinue && _inputLength < _total)
            {
                // The client sends the body only once told to (curl does, for bodies over 1 KB), as Kestrel tells it
                // when the body is read. Serving goes on once the 100 is sent.
                _output.Write("HTTP/1.1 100 Continue\r\n\r\n"u8);
                _continuePending = true;
                FlushOutput();
                return;
            }
        }

        if (_inputLength >= _total)
        {
            StartExchange();
        }
        else if (_inputEnded)
        {
            Close(); // the body will never be whole
        }
        else if (_readBlocked)
        {
            Read();
        }
    }

    /// <summary>
    /// The client has not sent its whole request within the request timeout: 408 and the connection closes, as Kestrel
    /// answers a head that takes too long (and HAProxy, <c>timeout http-request</c>). A routed request whose body is late
    /// is counted and logged; a head never complete is not, as on Kestrel.
    /// </summary>
    private void RequestTimedOut()
    {
        _closeRequested = true; // the 408 is the connection's last response
        _continuePending = false;
        if (_state == State.Body)
        {
            StartRequest(_inputLength - (_total - _head.ContentLength)).Service = _destination?.Service ?? "";
            Answer(StatusCodes.Status408RequestTimeout);
            return;
        }

        Http1Writer.WriteAnswer(_output, request: null, new LoadBalancerAnswer(StatusCodes.Status408RequestTimeout), close: true);
        _state = State.Closing;
        _since = Environment.TickCount64;
        FlushOutput();
    }

    /// <summary>The rest of the connection goes to Kestrel's HTTP stack, from the request in the input on.</summary>
    private void HandOver(string reason)
    {
        var unread = _input.AsSpan(0, _inputLength).ToArray();
        _loop.Release(this);
        ReturnInput();
        _forwarder.HandOver(_listener, Fd, unread, reason);
    }

    /// <summary>Drops the current request's bytes from the input; what follows (pipelined) moves to the front.</summary>
    private void ConsumeRequest()
    {
        _inputLength -= _total;
        if (_inputLength > 0)
        {
            _input.AsSpan(_total, _inputLength).CopyTo(_input);
        }

        if (_input.Length > UpstreamSocket.BufferSize && _inputLength <= UpstreamSocket.BufferSize)
        {
            ResizeInput(UpstreamSocket.BufferSize); // a large body has gone: back to the usual size
        }
    }

    /// <summary>Moves the input's bytes to a rented buffer of at least <paramref name="size"/> bytes.</summary>
    private void ResizeInput(int size)
    {
        var resized = ArrayPool<byte>.Shared.Rent(size);
        _input.AsSpan(0, _inputLength).CopyTo(resized);
        ReturnInput();
        _input = resized;
        _head.Rebase(resized);
    }

    /// <summary>Sends what the output holds; on a full socket the rest waits for EPOLLOUT.</summary>
    private void FlushOutput()
    {
        while (HasOutput)
        {
            nint n;
            fixed (byte* output = _output.WrittenSpan)
            {
                n = Libc.send(Fd, output + _outputSent, _output.WrittenCount - _outputSent, Libc.MSG_NOSIGNAL);
            }

            if (n > 0)
            {
                _outputSent += (int)n;
            }
            else if (n < 0 && Libc.WouldBlock)
            {
                return;
            }
            else
            {
                Close();
                return;
            }
        }

        _output.Reset();
        _outputSent = 0;
        switch (_state)
        {
            case State.Closing:
                Close();
                break;
            case State.Exchange:
                ResumeRelay();
                break;
            case State.Idle:
                Continue();
                break;
            case State.Body when _continuePending:
                _continuePending = false;
                Serve();
                break;
        }
    }

    /// <summary>A response of the load balancer's own, for the current request: an error.</summary>
    private void Answer(int status, string? body = null, string? retryAfter = null) =>
        Answer(new LoadBalancerAnswer(status)
        {
            Body = body is null ? default : Encoding.UTF8.GetBytes(body),
            ContentType = body is null ? null : "text/plain; charset=utf-8",
            RetryAfter = retryAfter,
        });

    /// <summary>The rule's own answer: a fixed response, or a redirect to its location filled from the request.</summary>
    private void Answer(CompiledAction action) => Answer(action switch
    {
        FixedResponsePlan fixedResponse => new LoadBalancerAnswer(fixedResponse.Status) { Body = fixedResponse.Body, ContentType = fixedResponse.ContentType },
        RedirectPlan redirect => new LoadBalancerAnswer(redirect.Status) { Location = redirect.LocationFor("http", _head.Host, _head.Path, _head.QueryString) },
        _ => throw new InvalidOperationException($"not an answer: {action.GetType().Name}"),
    });

    private void Answer(LoadBalancerAnswer answer)
    {
        var close = _head.Close || _closeRequested;
        _request!.StatusCode = answer.Status;
        _request.BytesOut = Http1Writer.WriteAnswer(_output, _request, answer, close);
        FlushOutput();
        if (!Closed)
        {
            RequestDone(close);
        }
    }

    /// <summary>The request is answered: the connection closes, or takes the next one.</summary>
    private void RequestDone(bool close)
    {
        EndRequest();
        _state = close ? State.Closing : State.Idle;
        _since = Environment.TickCount64;
        if (!HasOutput)
        {
            if (close)
            {
                Close();
            }
            else
            {
                Continue();
            }
        }
    }

    private void Continue()
    {
        if (_closeRequested)
        {
            Close();
        }
        else if (_readBlocked)
        {
            Read();
        }
        else
        {
            Serve();
        }
    }

    private void ReturnInput()
    {
        if (_input.Length > 0)
        {
            ArrayPool<byte>.Shared.Return(_input);
            _input = [];
            _head.Rebase([]); // the head was read from it: not after it goes back to the pool
        }
    }
}
