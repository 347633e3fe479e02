using System.Collections.Concurrent;
using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;
using System.Threading.Channels;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Server.Kestrel.Transport.Sockets;

namespace Flotilla.Proxy.FastPath;

/// <summary>Where Kestrel listens for a fast-path listener: not a socket, but the connections the event loops hand over.</summary>
internal sealed class HandOverEndPoint(string listener) : EndPoint
{
    public string Listener { get; } = listener;

    public override string ToString() => $"fast-path hand-over of listener {Listener}";
}

/// <summary>
/// A Kestrel transport whose connections are those the fast path's event loops hand over: each client socket becomes a
/// Kestrel connection (as Kestrel's own socket transport makes them) whose input starts with the bytes the loop had
/// already read, so Kestrel's HTTP stack serves the connection from the declined request on.
/// </summary>
internal sealed class HandOverTransport(ILoggerFactory loggerFactory) : IConnectionListenerFactory, IConnectionListenerFactorySelector, IAsyncDisposable
{
    private readonly SocketConnectionContextFactory _contexts = new(new SocketConnectionFactoryOptions(), loggerFactory.CreateLogger<HandOverTransport>());
    private readonly ConcurrentDictionary<string, Channel<ConnectionContext>> _queues = new();

    public bool CanBind(EndPoint endpoint) => endpoint is HandOverEndPoint;

    public ValueTask<IConnectionListener> BindAsync(EndPoint endpoint, CancellationToken cancellationToken = default) =>
        ValueTask.FromResult<IConnectionListener>(new Listener(endpoint, Queue(((HandOverEndPoint)endpoint).Listener)));

    /// <summary>Gives <paramref name="socket"/> to Kestrel as a connection of <paramref name="listener"/>, <paramref name="unread"/> first.</summary>
    public void Accept(string listener, Socket socket, byte[] unread)
    {
        var connection = _contexts.Create(socket);
        if (unread.Length > 0)
        {
            var transport = connection.Transport;
            connection.Transport = new DuplexPipe(new PrefixedPipeReader(unread, transport.Input), transport.Output);
        }

        if (!Queue(listener).Writer.TryWrite(connection))
        {
            // Kestrel has stopped listening: the server is stopping.
            _ = connection.DisposeAsync().AsTask();
        }
    }

    public ValueTask DisposeAsync()
    {
        foreach (var queue in _queues.Values)
        {
            queue.Writer.TryComplete();
        }

        _contexts.Dispose();
        return ValueTask.CompletedTask;
    }

    private Channel<ConnectionContext> Queue(string listener) =>
        _queues.GetOrAdd(listener, static _ => Channel.CreateUnbounded<ConnectionContext>(new UnboundedChannelOptions { SingleReader = true }));

    private sealed class DuplexPipe(PipeReader input, PipeWriter output) : IDuplexPipe
    {
        public PipeReader Input { get; } = input;

        public PipeWriter Output { get; } = output;
    }

    private sealed class Listener(EndPoint endpoint, Channel<ConnectionContext> queue) : IConnectionListener
    {
        public EndPoint EndPoint { get; } = endpoint;

        public async ValueTask<ConnectionContext?> AcceptAsync(CancellationToken cancellationToken = default)
        {
            try
            {
                return await queue.Reader.ReadAsync(cancellationToken);
            }
            catch (Exception e) when (e is ChannelClosedException or OperationCanceledException)
            {
                return null;
            }
        }

        public ValueTask UnbindAsync(CancellationToken cancellationToken = default)
        {
            queue.Writer.TryComplete();
            return ValueTask.CompletedTask;
        }

        public ValueTask DisposeAsync() => UnbindAsync();
    }
}
