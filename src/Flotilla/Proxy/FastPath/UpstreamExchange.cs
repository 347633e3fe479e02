using System.Buffers;
using System.Buffers.Text;
using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Flotilla.Proxy.Forwarding;
using Flotilla.Proxy.Targets;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.WebUtilities;

namespace Flotilla.Proxy.FastPath;

/// <summary>
/// One request's round trip on the fast path: the head rewritten for the task (the same headers
/// <see cref="ForwardingTransformer"/> writes), sent with its body on a pooled connection, and the task's response
/// relayed to the client as it arrives, its framing followed to know where it ends. Errors are answered as the YARP
/// path answers them: 502 when the task cannot be reached or breaks the protocol, 504 when it does not answer within
/// the timeout, and an aborted client connection when the response fails after it has started.
/// </summary>
/// <remarks>One instance per client connection, reused for each of its requests.</remarks>
internal sealed class UpstreamExchange : IDisposable
{
    private readonly FastPathForwarder _forwarder;
    private readonly ConnectionContext _connection;
    private readonly PipeWriter _output;
    private readonly Http1RequestHead _head;
    private readonly Http1ResponseHead _response = new();
    private readonly ArrayBufferWriter<byte> _request = new(1024);
    private readonly string _peer;
    private CancellationTokenSource _timeout = new();

    public UpstreamExchange(FastPathForwarder forwarder, ConnectionContext connection, Http1RequestHead head, IPAddress peer)
    {
        _forwarder = forwarder;
        _connection = connection;
        _output = connection.Transport.Output;
        _head = head;
        _peer = peer.ToString();
    }

    /// <summary>Forwards the request to <paramref name="target"/> and relays its response; sets the request's status and bytes out.</summary>
    /// <returns>Whether the client connection may carry another request.</returns>
    public async Task<bool> ForwardAsync(ProxyRequest request, Target target, ReadOnlySequence<byte> body, TimeSpan timeout, bool closing)
    {
        WriteRequest(request, body);
        if (_timeout.IsCancellationRequested)
        {
            _timeout.Dispose();
            _timeout = new CancellationTokenSource();
        }

        var cancellation = _timeout.Token;
        UpstreamConnection? upstream = null;
        try
        {
            int received;
            (upstream, received) = await SendAsync(target, cancellation, timeout);
            if (upstream is null)
            {
                return await AnswerAsync(request, StatusCodes.Status502BadGateway, closing);
            }

            return await RelayAsync(request, target, upstream, received, timeout, closing);
        }
        catch (Exception exception) when (exception is SocketException or OperationCanceledException or InvalidDataException or ObjectDisposedException)
        {
            upstream?.Dispose();
            _forwarder.LogUpstreamFailed(request.RequestId, target, exception);
            if (request.StatusCode != 0)
            {
                // The response had started: the client must see it break, not end.
                _connection.Abort(new ConnectionAbortedException("the task's response broke off"));
                return false;
            }

            var status = exception is OperationCanceledException
                ? StatusCodes.Status504GatewayTimeout
                : StatusCodes.Status502BadGateway;
            return await AnswerAsync(request, status, closing);
        }
        finally
        {
            // No timer between requests: one firing then would cancel the next request's first operation.
            _timeout.CancelAfter(Timeout.InfiniteTimeSpan);
        }
    }

    /// <summary>No eligible target: 503 with Retry-After, as <see cref="ProxyMiddleware"/> answers it.</summary>
    public Task<bool> AnswerNoTargetAsync(ProxyRequest request, TargetGroup group, bool closing) =>
        AnswerAsync(request, StatusCodes.Status503ServiceUnavailable, closing, TargetGroup.NoTargetMessage(request.Service), group.RetryAfter);

    public void Dispose() => _timeout.Dispose();

    /// <summary>Sends the request, on an idle connection if there is one, and reads until the response head is in.</summary>
    /// <returns>The connection and how many bytes it has received; no connection when the task could not be reached.</returns>
    private async Task<(UpstreamConnection? Upstream, int Received)> SendAsync(Target target, CancellationToken cancellation, TimeSpan timeout)
    {
        var upstream = _forwarder.Pool.Rent(target);
        while (true)
        {
            var reused = upstream is not null;
            if (upstream is null)
            {
                _timeout.CancelAfter(FastPathForwarder.ConnectTimeout);
                try
                {
                    upstream = await UpstreamConnection.ConnectAsync(target.Port, cancellation);
                }
                catch (Exception exception) when (exception is SocketException or OperationCanceledException)
                {
                    _forwarder.LogUpstreamFailed("-", target, exception);
                    return (null, 0);
                }
            }

            _timeout.CancelAfter(timeout);
            try
            {
                await upstream.Socket.SendAsync(_request.WrittenMemory, SocketFlags.None, cancellation);
                var received = await ReceiveHeadAsync(upstream, cancellation);
                if (received > 0)
                {
                    return (upstream, received);
                }
            }
            catch (SocketException) when (reused)
            {
            }
            catch
            {
                upstream.Dispose();
                throw;
            }

            // A reused connection the task had closed while it idled (it answered nothing): once more on a new one.
            upstream.Dispose();
            if (!reused)
            {
                throw new InvalidDataException("the task closed the connection without a response");
            }

            upstream = null;
        }
    }

    /// <returns>Bytes received, the head complete among them; 0 when the connection closed before any byte.</returns>
    private async Task<int> ReceiveHeadAsync(UpstreamConnection upstream, CancellationToken cancellation)
    {
        var buffer = upstream.Buffer;
        var filled = 0;
        while (true)
        {
            var read = await upstream.Socket.ReceiveAsync(buffer.AsMemory(filled, UpstreamConnection.BufferSize - filled), SocketFlags.None, cancellation);
            if (read == 0)
            {
                return filled == 0 ? 0 : throw new InvalidDataException("the task closed the connection mid-head");
            }

            filled += read;
            while (_response.TryParse(buffer.AsSpan(0, filled), _head.Method == HttpMethods.Head))
            {
                if (_response.StatusCode is >= 200 or 101)
                {
                    return _response.StatusCode == 101 ? throw new InvalidDataException("101 without an upgrade") : filled;
                }

                // An interim response (100 Continue, 103 Early Hints): not passed on; the final one follows.
                buffer.AsSpan(_response.Length, filled - _response.Length).CopyTo(buffer);
                filled -= _response.Length;
            }
        }
    }

    private async Task<bool> RelayAsync(ProxyRequest request, Target target, UpstreamConnection upstream, int received, TimeSpan timeout, bool closing)
    {
        var close = _head.Close || closing || _response.Framing == BodyFraming.UntilClose;
        var buffer = upstream.Buffer;
        WriteResponseHead(request, buffer, close);
        request.StatusCode = _response.StatusCode;

        var remaining = _response.ContentLength;
        var chunks = default(ChunkedScanner);
        var start = _response.Length;
        var leftover = false;
        var done = _response.Framing == BodyFraming.None;
        long bytesOut = 0;
        while (true)
        {
            var available = received - start;
            var take = _response.Framing switch
            {
                BodyFraming.ContentLength => (int)Math.Min(available, remaining),
                BodyFraming.Chunked => chunks.Advance(buffer.AsSpan(start, available)),
                BodyFraming.UntilClose => available,
                _ => 0,
            };
            remaining -= take;
            done |= _response.Framing switch
            {
                BodyFraming.ContentLength => remaining == 0,
                BodyFraming.Chunked => chunks.Done,
                _ => false,
            };
            leftover |= take < available;
            _output.Write(buffer.AsSpan(start, take));
            bytesOut += take;
            var flushed = await _output.FlushAsync();
            if (flushed.IsCompleted || flushed.IsCanceled)
            {
                upstream.Dispose();
                request.BytesOut = bytesOut;
                return false;
            }

            if (done)
            {
                break;
            }

            _timeout.CancelAfter(timeout);
            received = await upstream.Socket.ReceiveAsync(buffer.AsMemory(0, UpstreamConnection.BufferSize), SocketFlags.None, _timeout.Token);
            start = 0;
            if (received == 0)
            {
                if (_response.Framing != BodyFraming.UntilClose)
                {
                    throw new InvalidDataException("the task closed the connection mid-body");
                }

                break;
            }
        }

        request.BytesOut = _response.Framing == BodyFraming.Chunked ? chunks.DataBytes : bytesOut;
        if (_response.Close || leftover || _response.Framing == BodyFraming.UntilClose)
        {
            upstream.Dispose();
        }
        else
        {
            _forwarder.Pool.Return(target, upstream);
        }

        return !close;
    }

    /// <summary>A response of the load balancer's own (an error): status, request id, a short text body if any.</summary>
    private async Task<bool> AnswerAsync(ProxyRequest request, int status, bool closing, string? body = null, string? retryAfter = null)
    {
        var close = _head.Close || closing;
        request.StatusCode = status;
        var writer = _output;
        writer.Write("HTTP/1.1 "u8);
        WriteNumber(writer, status);
        writer.Write(" "u8);
        WriteAscii(writer, ReasonPhrases.GetReasonPhrase(status));
        writer.Write("\r\nDate: "u8);
        WriteAscii(writer, DateTimeOffset.UtcNow.ToString("r"));
        WriteHeader(writer, "\r\nX-Request-Id: "u8, request.RequestId);
        if (retryAfter is not null)
        {
            WriteHeader(writer, "\r\nRetry-After: "u8, retryAfter);
        }

        var bytes = body is null ? [] : Encoding.UTF8.GetBytes(body);
        if (bytes.Length > 0)
        {
            writer.Write("\r\nContent-Type: text/plain; charset=utf-8"u8);
        }

        writer.Write("\r\nContent-Length: "u8);
        WriteNumber(writer, bytes.Length);
        writer.Write(close ? "\r\nConnection: close\r\n\r\n"u8 : "\r\n\r\n"u8);
        if (_head.Method != HttpMethods.Head)
        {
            writer.Write(bytes);
            request.BytesOut = bytes.Length;
        }

        var flushed = await writer.FlushAsync();
        return !close && !flushed.IsCompleted;
    }

    /// <summary>The client's head for the task: hop-by-hop and replaced headers out, the load balancer's in.</summary>
    private void WriteRequest(ProxyRequest request, ReadOnlySequence<byte> body)
    {
        var writer = _request;
        writer.ResetWrittenCount();
        WriteAscii(writer, request.Method);
        writer.Write(" "u8);
        writer.Write(_head.Target);
        writer.Write(" HTTP/1.1\r\n"u8);
        for (var i = 0; i < _head.HeaderCount; i++)
        {
            var (line, kind) = _head.HeaderAt(i);
            if (kind == Http1RequestHead.HeaderKind.Forwarded)
            {
                writer.Write(line.Span);
                writer.Write("\r\n"u8);
            }
        }

        // As ForwardingTransformer: from a trusted proxy the chain is extended and its proto and host kept.
        string forwardedFor = _peer, proto = request.Scheme, host = _head.Host;
        if (request.FromTrustedProxy)
        {
            var chain = _head.Header("X-Forwarded-For").ToString();
            forwardedFor = chain.Length == 0 ? _peer : $"{chain}, {_peer}";
            proto = _head.Header("X-Forwarded-Proto") is { Count: > 0 } p ? p.ToString() : proto;
            host = _head.Header("X-Forwarded-Host") is { Count: > 0 } h ? h.ToString() : host;
        }

        WriteHeader(writer, "X-Forwarded-For: "u8, forwardedFor);
        WriteHeader(writer, "\r\nX-Forwarded-Proto: "u8, proto);
        WriteHeader(writer, "\r\nX-Forwarded-Host: "u8, host);
        WriteHeader(writer, "\r\nX-Request-Id: "u8, request.RequestId);
        WriteHeader(writer, "\r\ntraceparent: "u8, request.Trace.ToTraceParent());
        if (request.Trace.TraceState is { Length: > 0 } state)
        {
            WriteHeader(writer, "\r\ntracestate: "u8, state);
        }

        writer.Write("\r\n\r\n"u8);
        foreach (var segment in body)
        {
            writer.Write(segment.Span);
        }
    }

    private void WriteResponseHead(ProxyRequest request, byte[] head, bool close)
    {
        var writer = _output;
        writer.Write("HTTP/1.1 "u8);
        WriteNumber(writer, _response.StatusCode);
        writer.Write(" "u8);
        var (reasonStart, reasonLength) = _response.Reason;
        writer.Write(head.AsSpan(reasonStart, reasonLength));
        writer.Write("\r\n"u8);
        foreach (var (start, length) in _response.Forwarded)
        {
            writer.Write(head.AsSpan(start, length));
            writer.Write("\r\n"u8);
        }

        WriteHeader(writer, "X-Request-Id: "u8, request.RequestId);
        writer.Write(close ? "\r\nConnection: close\r\n\r\n"u8 : "\r\n\r\n"u8);
    }

    private static void WriteHeader(IBufferWriter<byte> writer, ReadOnlySpan<byte> nameAndColon, string value)
    {
        writer.Write(nameAndColon);
        WriteAscii(writer, value);
    }

    /// <summary>ASCII only: every string written here was checked to be visible ASCII (or made by the load balancer).</summary>
    private static void WriteAscii(IBufferWriter<byte> writer, string value)
    {
        var span = writer.GetSpan(value.Length);
        var written = Encoding.ASCII.GetBytes(value, span);
        writer.Advance(written);
    }

    private static void WriteNumber(IBufferWriter<byte> writer, long value)
    {
        var span = writer.GetSpan(20);
        Utf8Formatter.TryFormat(value, span, out var written);
        writer.Advance(written);
    }
}
