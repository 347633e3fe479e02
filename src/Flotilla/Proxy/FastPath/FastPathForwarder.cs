using Flotilla.Proxy.Routing;
using Flotilla.Proxy.Targets;
using Flotilla.Telemetry;
using Microsoft.AspNetCore.Connections;

namespace Flotilla.Proxy.FastPath;

/// <summary>
/// The load balancer's lean path for plain HTTP/1.1: a Kestrel connection middleware that reads request heads straight
/// from the connection, routes and picks a target exactly as <see cref="ProxyMiddleware"/> does (same router, same
/// target groups, same <see cref="RequestLedger"/>), and relays bytes to pooled keep-alive connections to the tasks.
/// It skips what a simple request does not need — an <c>HttpContext</c>, header collections, <c>HttpClient</c>'s
/// request and response objects — which is most of the cost of a proxied request.
/// </summary>
/// <remarks>
/// Anything it does not take (see <see cref="Http1RequestHead"/>: chunked or large bodies, upgrades, unusual heads;
/// sticky services; fixed responses and redirects) hands the connection, from that request on, to Kestrel's HTTP
/// stack and <see cref="ProxyMiddleware"/>, with the request's bytes unread. HTTPS listeners, HTTP/2 and WebSockets
/// always take that path.
/// </remarks>
internal sealed partial class FastPathForwarder(RoutingTable routes, TargetGroups groups, RequestLedger ledger, FlotillaMetrics metrics, ILoggerFactory loggerFactory) : IDisposable
{
    /// <summary>Largest request body the fast path buffers and forwards itself; larger ones are streamed by YARP.</summary>
    public const int MaxBufferedBody = 64 * 1024;

    /// <summary>Kestrel's default keep-alive timeout, which the fast path keeps for the connections it serves.</summary>
    public static readonly TimeSpan KeepAliveTimeout = TimeSpan.FromSeconds(130);

    /// <summary>Kestrel's default request-headers timeout, here the longest wait for a buffered request body.</summary>
    public static readonly TimeSpan BodyTimeout = TimeSpan.FromSeconds(30);

    /// <summary>How long a connection to a task may take to open before the request gets 502.</summary>
    public static readonly TimeSpan ConnectTimeout = TimeSpan.FromSeconds(5);

    private readonly ILogger _logger = loggerFactory.CreateLogger<FastPathForwarder>();

    public RoutingTable Routes => routes;

    public TargetGroups Groups => groups;

    public RequestLedger Ledger => ledger;

    public UpstreamPool Pool { get; } = new();

    /// <summary>The connection middleware for <paramref name="listener"/>; a listener with <c>fastPath: false</c> skips it.</summary>
    public Func<ConnectionDelegate, ConnectionDelegate> Intercept(ListenerRuntime listener) =>
        next => connection => listener.Spec.FastPath ? new FastPathConnection(this, listener, connection).RunAsync(next) : next(connection);

    public void Dispose() => Pool.Dispose();

    /// <summary>A connection goes on in Kestrel + YARP from its current request: counted per reason, logged at Debug.</summary>
    public void HandOver(string connectionId, string listener, string reason)
    {
        metrics.RecordHandOver(listener, reason);
        LogHandOver(connectionId, listener, reason);
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "connection {ConnectionId} on {Listener} goes to the full HTTP stack: {Reason}")]
    private partial void LogHandOver(string connectionId, string listener, string reason);

    [LoggerMessage(Level = LogLevel.Debug, Message = "connection {ConnectionId} on {Listener} ended")]
    public partial void LogEnded(string connectionId, string listener, Exception exception);

    [LoggerMessage(Level = LogLevel.Debug, Message = "request {RequestId} to {Target} failed")]
    public partial void LogUpstreamFailed(string requestId, Target target, Exception exception);
}
