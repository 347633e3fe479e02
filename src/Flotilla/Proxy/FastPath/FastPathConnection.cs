using System.Buffers;
using System.IO.Pipelines;
using System.Net;
using Flotilla.Proxy.Routing;
using Flotilla.Proxy.Targets;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Connections.Features;

namespace Flotilla.Proxy.FastPath;

/// <summary>
/// One client connection on the fast path: reads a request head, routes it, buffers its (small) body, forwards it with
/// <see cref="UpstreamExchange"/>, and loops until the client closes, asks to close, idles out — or sends a request the
/// fast path does not take, when the connection goes on in Kestrel's HTTP stack from that request.
/// </summary>
internal sealed class FastPathConnection
{
    private readonly FastPathForwarder _forwarder;
    private readonly ListenerRuntime _listener;
    private readonly ConnectionContext _connection;
    private readonly PipeReader _input;
    private readonly IPAddress _peer;
    private readonly Http1RequestHead _head = new();
    private readonly UpstreamExchange _exchange;
    private long _idleSince;
    private long _bodySince;
    private volatile bool _closeRequested;
    private volatile bool _handedOver;

    public FastPathConnection(FastPathForwarder forwarder, ListenerRuntime listener, ConnectionContext connection)
    {
        _forwarder = forwarder;
        _listener = listener;
        _connection = connection;
        _input = connection.Transport.Input;
        _peer = (connection.RemoteEndPoint as IPEndPoint)?.Address ?? IPAddress.None;
        _exchange = new UpstreamExchange(forwarder, connection, _head, _peer);
    }

    public async Task RunAsync(ConnectionDelegate next)
    {
        string? handOver = null;
        var closing = _connection.Features.Get<IConnectionLifetimeNotificationFeature>()?.ConnectionClosedRequested.Register(static state => ((FastPathConnection)state!).OnCloseRequested(), this);
        _connection.Features.Get<IConnectionHeartbeatFeature>()?.OnHeartbeat(static state => ((FastPathConnection)state).OnHeartbeat(), this);
        try
        {
            handOver = await ServeAsync();
        }
        catch (Exception exception) when (exception is ConnectionResetException or ConnectionAbortedException or IOException or OperationCanceledException or InvalidOperationException)
        {
            _forwarder.LogEnded(_connection.ConnectionId, _listener.Name, exception);
        }
        finally
        {
            _handedOver = true;
            closing?.Dispose();
            _exchange.Dispose();
        }

        if (handOver is not null)
        {
            _forwarder.HandOver(_connection.ConnectionId, _listener.Name, handOver);
            await next(_connection);
        }
    }

    /// <returns>Null when the connection is over; else why the rest of it goes to the full HTTP stack.</returns>
    private async Task<string?> ServeAsync()
    {
        while (true)
        {
            Volatile.Write(ref _idleSince, Environment.TickCount64);
            var result = await _input.ReadAsync();
            Volatile.Write(ref _idleSince, 0);
            var buffer = result.Buffer;
            if (result.IsCanceled || (buffer.IsEmpty && result.IsCompleted) || _closeRequested)
            {
                return null;
            }

            CompiledRule? rule = null;
            ForwardPlan.Destination? destination = null;
            TargetGroup? group = null;
            var headLength = _head.Load(buffer);
            var declined = headLength < 0 ? "request head not complete in one read" : _head.Parse(headLength) ?? Route(out rule, out destination, out group);
            if (declined is not null)
            {
                // Nothing consumed, nothing examined: Kestrel reads this request from its first byte.
                _input.AdvanceTo(buffer.Start);
                return declined;
            }

            var total = headLength + _head.ContentLength;
            while (buffer.Length < total)
            {
                if (result.IsCompleted)
                {
                    return null;
                }

                // The rest of the body is still on its way: the heartbeat aborts the connection if it takes too long.
                Volatile.Write(ref _bodySince, Environment.TickCount64);
                _input.AdvanceTo(buffer.Start, buffer.End);
                result = await _input.ReadAsync();
                buffer = result.Buffer;
                Volatile.Write(ref _bodySince, 0);
            }

            var keepOpen = await ForwardAsync(rule, destination!, group!, buffer.Slice(headLength, _head.ContentLength));
            _input.AdvanceTo(buffer.GetPosition(total));

            // The exchange said no to a client that asked to close; a server stop may have come during the response.
            if (!keepOpen || _closeRequested)
            {
                return null;
            }
        }
    }

    /// <summary>Routes the parsed head without side effects, so that a declined request can still go the other way.</summary>
    /// <returns>Null when the fast path takes it; else why not.</returns>
    private string? Route(out CompiledRule? rule, out ForwardPlan.Destination? destination, out TargetGroup? group)
    {
        var router = _forwarder.Routes.Current;
        rule = router.Match(_listener.Name, _head);
        destination = null;
        group = null;
        if ((rule?.Action ?? router.Default(_listener.Name)) is not ForwardPlan plan)
        {
            return "not a forward action";
        }

        destination = plan.Choose(Random.Shared);
        group = _forwarder.Groups.ByService.GetValueOrDefault(destination.Service);
        return group is null ? "service has no target group"
            : group.Service.Stickiness is not null ? "sticky sessions"
            : _head.ContentLength > Math.Min(FastPathForwarder.MaxBufferedBody, _listener.Spec.MaxBodySize) ? "large body"
            : null;
    }

    /// <returns>Whether the connection may carry another request.</returns>
    private async Task<bool> ForwardAsync(CompiledRule? rule, ForwardPlan.Destination destination, TargetGroup group, ReadOnlySequence<byte> body)
    {
        var ledger = _forwarder.Ledger;
        var request = ledger.Start(_listener, _head, _peer);
        request.Rule = rule;
        request.Service = destination.Service;
        request.BytesIn = _head.ContentLength;
        _head.ClientAddress = request.Address;
        try
        {
            var target = group.Pick(_head);
            if (target is null)
            {
                return await _exchange.AnswerNoTargetAsync(request, group, _closeRequested);
            }

            var started = ledger.Dispatch(request, target);
            try
            {
                return await _exchange.ForwardAsync(request, target, body, destination.Timeout, _closeRequested);
            }
            finally
            {
                ledger.Settle(request, group, started, request.StatusCode);
            }
        }
        finally
        {
            ledger.Complete(request);
        }
    }

    private void OnHeartbeat()
    {
        if (_handedOver)
        {
            return;
        }

        var now = Environment.TickCount64;
        var idle = Volatile.Read(ref _idleSince);
        if (idle != 0 && now - idle > FastPathForwarder.KeepAliveTimeout.TotalMilliseconds)
        {
            _input.CancelPendingRead();
        }

        var body = Volatile.Read(ref _bodySince);
        if (body != 0 && now - body > FastPathForwarder.BodyTimeout.TotalMilliseconds)
        {
            _connection.Abort(new ConnectionAbortedException("request body timed out"));
        }
    }

    /// <summary>The server is stopping: an idle connection closes now, a busy one after its response.</summary>
    private void OnCloseRequested()
    {
        _closeRequested = true;
        if (Volatile.Read(ref _idleSince) != 0)
        {
            _input.CancelPendingRead();
        }
    }
}
