using System.Net;
using System.Net.Sockets;
using Flotilla.Core.Spec;
using Flotilla.Proxy.Forwarding;
using Flotilla.Proxy.Routing;
using Flotilla.Proxy.Targets;
using Flotilla.Telemetry;
using Microsoft.Extensions.Options;

namespace Flotilla.Proxy.FastPath;

/// <summary>
/// The load balancer's lean path for plain HTTP/1.1, built as HAProxy is: the fast-path listeners' sockets are served by
/// event loops of Flotilla's own (<see cref="EventLoop"/>, half the cores), which read request heads, route and pick a
/// target exactly as <see cref="ProxyMiddleware"/> does (same router, same target groups, same
/// <see cref="RequestLedger"/>), and relay bytes to pooled keep-alive connections to the tasks — with no Kestrel,
/// thread pool or tasks on a request's path.
/// </summary>
/// <remarks>
/// Anything it does not take (see <see cref="Http1RequestHead"/>: chunked or large bodies, upgrades, unusual heads)
/// hands the connection, from that request on, to Kestrel's HTTP stack
/// and <see cref="ProxyMiddleware"/> through <see cref="HandOverTransport"/>, with the request's bytes unread. HTTPS
/// listeners, HTTP/2 and WebSockets always take that path.
/// </remarks>
internal sealed partial class FastPathForwarder : IAsyncDisposable
{
    /// <summary>Largest request body the fast path buffers and forwards itself; larger ones are streamed by YARP.</summary>
    public const int MaxBufferedBody = 64 * 1024;

    /// <summary>
    /// How long a client may leave a response unread (no byte taken) before its connection is closed: Kestrel's default
    /// keep-alive timeout, as the fast path's limit on a stalled reader.
    /// </summary>
    public static readonly TimeSpan StalledClientTimeout = LoadBalancerSpec.DefaultKeepAliveTimeout;

    /// <summary>How long a connection to a task may take to open before the request gets 502.</summary>
    public static readonly TimeSpan ConnectTimeout = TimeSpan.FromSeconds(5);

    /// <summary>The environment variable that sets how many event loops serve the fast-path listeners.</summary>
    public const string EventLoopsVariable = "FLOTILLA_EVENT_LOOPS";

    private readonly RoutingTable _routes;
    private readonly TargetGroups _groups;
    private readonly FlotillaMetrics _metrics;
    private readonly ILogger _logger;
    private EventLoop[] _loops = [];
    private readonly List<Socket> _sockets = [];
    private bool _started;

    public FastPathForwarder(RoutingTable routes, TargetGroups groups, RequestLedger ledger, StickyCookie sticky, LoadBalancerSpec clients, ConnectionBudget budget, FlotillaMetrics metrics, ILoggerFactory loggerFactory)
    {
        Budget = budget;
        KeepAliveTimeout = (long)clients.KeepAliveTimeout.TotalMilliseconds;
        RequestTimeout = (long)clients.RequestTimeout.TotalMilliseconds;
        _routes = routes;
        _groups = groups;
        _metrics = metrics;
        Ledger = ledger;
        Sticky = sticky;
        _logger = loggerFactory.CreateLogger<FastPathForwarder>();
        HandOvers = new HandOverTransport(loggerFactory);
    }

    public RequestLedger Ledger { get; }

    /// <summary>The client connections the load balancer may hold: the loops accept only within it.</summary>
    public ConnectionBudget Budget { get; }

    /// <summary><see cref="LoadBalancerSpec.KeepAliveTimeout"/>, in milliseconds: the longest wait for a connection's next request.</summary>
    public long KeepAliveTimeout { get; }

    /// <summary><see cref="LoadBalancerSpec.RequestTimeout"/>, in milliseconds: the longest wait for the rest of a request head or of a buffered body.</summary>
    public long RequestTimeout { get; }

    /// <summary>Picks targets, sticky ones included, as <see cref="ProxyMiddleware"/> does.</summary>
    public StickyCookie Sticky { get; }

    /// <summary>Kestrel's transport for the connections the fast path hands over.</summary>
    public HandOverTransport HandOvers { get; }

    /// <summary>
    /// Whether <paramref name="listener"/>'s socket is the event loops': plain HTTP and not a redirect to HTTPS. With
    /// <c>fastPath: false</c> they pass each new connection to Kestrel as they accept it, so that an apply can turn the
    /// fast path on or off for new connections without a new socket.
    /// </summary>
    public static bool Serves(ListenerRuntime listener) =>
        listener.Spec.Protocol == ListenerProtocol.Http && !listener.RedirectsToHttps;

    /// <summary>Binds <paramref name="listener"/>'s socket for the event loops (port 0 resolved into its runtime).</summary>
    /// <exception cref="IOException">The address cannot be bound; the message names the listener.</exception>
    public void Bind(ListenerRuntime listener)
    {
        var address = listener.Spec.Listen.ToIPAddress();
        var socket = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            if (address.AddressFamily == AddressFamily.InterNetworkV6 && address.Equals(IPAddress.IPv6Any))
            {
                socket.DualMode = true;
            }

            // As Kestrel: a restarted Flotilla can bind at once while old connections linger in TIME_WAIT.
            socket.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
            socket.Bind(new IPEndPoint(address, listener.Spec.Listen.Port));
            socket.Listen(512);
            socket.Blocking = false;
        }
        catch (SocketException e)
        {
            socket.Dispose();
            var reason = e.SocketErrorCode == SocketError.AddressAlreadyInUse ? "address already in use" : e.Message;
            throw new IOException($"listener {listener.Name}: cannot listen on {listener.Spec.Listen}: {reason}", e);
        }

        _sockets.Add(socket);
        if (_loops.Length == 0)
        {
            var count = EventLoopCount(Environment.GetEnvironmentVariable(EventLoopsVariable), Environment.ProcessorCount);
            _loops = Enumerable.Range(0, count).Select(i => new EventLoop(this, i, _logger)).ToArray();
        }

        listener.FastPathEndPoint = (IPEndPoint)socket.LocalEndPoint!;
        foreach (var loop in _loops)
        {
            loop.AddListener(listener, (int)socket.Handle);
        }
    }

    /// <summary>
    /// How many event loops to run: <paramref name="value"/> of <see cref="EventLoopsVariable"/> if set, else half the
    /// cores (at least one). The tasks run on the same machine and need cores too: on 2 cores, one loop left the tasks
    /// more CPU and served as many requests at half the p99 of two (bench/README.md).
    /// </summary>
    /// <exception cref="OptionsValidationException">The value is not a whole number from 1 to 256.</exception>
    public static int EventLoopCount(string? value, int cores)
    {
        if (string.IsNullOrEmpty(value))
        {
            return Math.Max(1, cores / 2);
        }

        return int.TryParse(value, System.Globalization.NumberStyles.None, null, out var count) && count is >= 1 and <= 256
            ? count
            : throw new OptionsValidationException(EventLoopsVariable, typeof(int), [$"{EventLoopsVariable}={value}: must be a whole number from 1 to 256"]);
    }

    /// <summary>The running loop with the fewest connections; <paramref name="current"/> when it is one of those.</summary>
    public EventLoop LeastLoaded(EventLoop current)
    {
        var least = current;
        foreach (var loop in _loops)
        {
            if (!loop.Stopping && loop.OpenConnections < least.OpenConnections)
            {
                least = loop;
            }
        }

        return least;
    }

    /// <summary>Starts the event loops (once the listeners are bound and Kestrel is ready for hand-overs).</summary>
    public void Start()
    {
        if (_sockets.Count > 0)
        {
            _started = true;
            Array.ForEach(_loops, loop => loop.Start());
        }
    }

    /// <summary>Stops accepting; waits for the connections in progress until <paramref name="cancellationToken"/> fires, then closes them.</summary>
    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (!_started)
        {
            return;
        }

        _started = false;
        Array.ForEach(_loops, loop => loop.Stop());
        var ended = Task.WhenAll(_loops.Select(loop => loop.Ended));
        try
        {
            await ended.WaitAsync(cancellationToken);
        }
        catch (OperationCanceledException)
        {
            Array.ForEach(_loops, loop => loop.Abort());
            await ended.WaitAsync(TimeSpan.FromSeconds(5), CancellationToken.None).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync(new CancellationToken(canceled: true));
        _sockets.ForEach(socket => socket.Dispose());
        _sockets.Clear();
        await HandOvers.DisposeAsync();
    }

    /// <summary>
    /// Routes a parsed head without side effects, so that a declined request can still go the other way: the matched
    /// <paramref name="rule"/>, and either its fixed response or redirect (<paramref name="answer"/>, which the loop
    /// answers itself) or the <paramref name="destination"/> and target <paramref name="group"/> it forwards to.
    /// </summary>
    /// <returns>Null when the fast path takes it; else why not.</returns>
    public string? Route(ListenerRuntime listener, Http1RequestHead head, out CompiledRule? rule, out CompiledAction? answer, out ForwardPlan.Destination? destination, out TargetGroup? group)
    {
        var router = _routes.Current;
        rule = router.Match(listener.Name, head);
        answer = null;
        destination = null;
        group = null;
        if (head.ContentLength > Math.Min(MaxBufferedBody, listener.Spec.MaxBodySize))
        {
            return "large body";
        }

        var action = rule?.Action ?? router.Default(listener.Name);
        switch (action)
        {
            case ForwardPlan plan:
                destination = plan.Choose(Random.Shared);
                group = _groups.ByService.GetValueOrDefault(destination.Service);
                return group is null ? "service has no target group" : null;
            case FixedResponsePlan or RedirectPlan:
                answer = action;
                return null;
            default:
                throw new InvalidOperationException($"unknown action {action.GetType().Name}");
        }
    }

    /// <summary>
    /// A connection (its descriptor <paramref name="fd"/>) of <paramref name="listener"/> goes on in Kestrel + YARP from
    /// its current request, whose bytes the loop has read (<paramref name="unread"/>, which Kestrel reads first);
    /// counted per <paramref name="reason"/>, logged at Debug.
    /// </summary>
    public void HandOver(ListenerRuntime listener, int fd, byte[] unread, string reason)
    {
        _metrics.RecordHandOver(listener.Name, reason);
        LogHandOver(fd, listener.Name, reason);
        PassOn(listener, fd, unread);
    }

    /// <summary>A new connection of a listener with <c>fastPath: false</c> goes to Kestrel as it is (not a hand-over: not counted).</summary>
    public void PassOn(ListenerRuntime listener, int fd, byte[] unread) =>
        HandOvers.Accept(listener.Name, new Socket(new SafeSocketHandle(fd, ownsHandle: true)), unread);

    [LoggerMessage(Level = LogLevel.Debug, Message = "connection (fd {Fd}) on {Listener} goes to the full HTTP stack: {Reason}")]
    private partial void LogHandOver(int fd, string listener, string reason);

    [LoggerMessage(Level = LogLevel.Debug, Message = "request {RequestId} to {Target} failed")]
    public partial void LogUpstreamFailed(string requestId, Target target, Exception exception);
}
