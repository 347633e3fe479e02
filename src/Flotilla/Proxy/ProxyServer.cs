using System.Net.Security;
using System.Net.Sockets;
using Flotilla.Core.Fleet;
using Flotilla.Core.Metrics;
using Flotilla.Core.Spec;
using Flotilla.Hosting;
using Flotilla.Proxy.AccessLog;
using Flotilla.Proxy.FastPath;
using Flotilla.Proxy.Forwarding;
using Flotilla.Proxy.Routing;
using Flotilla.Proxy.Targets;
using Flotilla.Scheduling;
using Flotilla.Telemetry;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.AspNetCore.Server.Kestrel.Https;

namespace Flotilla.Proxy;

/// <summary>
/// The load balancer: the fast path's event loops on the plain-HTTP listeners' sockets (<see cref="FastPathForwarder"/>),
/// and one Kestrel server, whose only middleware is <see cref="ProxyMiddleware"/>, for the HTTPS listeners and for
/// every connection the loops hand over. TLS is terminated here, with the certificate chosen per connection by SNI.
/// </summary>
internal sealed partial class ProxyServer(
    SpecDocument spec,
    StateDirectory stateDirectory,
    ListenerDirectory listeners,
    RoutingTable routes,
    FleetView fleet,
    TargetGroups targets,
    FlotillaMetrics metrics,
    MetricStore store,
    TimeProvider time,
    ILoggerFactory loggerFactory) : IHostedService, IAsyncDisposable
{
    private readonly ILogger _logger = loggerFactory.CreateLogger<ProxyServer>();
    private WebApplication? _app;
    private AccessLogWriter? _accessLog;
    private FastPathForwarder? _fastPath;

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        if (listeners.All.Count == 0)
        {
            return;
        }

        var clients = fleet.Current.Spec.LoadBalancer;
        var budget = NewBudget(clients.MaxConnections);
        var accessLog = _accessLog = new AccessLogWriter(fleet.Current.Spec.AccessLog, Path.Combine(stateDirectory.Path, "access.log"), loggerFactory.CreateLogger<AccessLogWriter>());
        var ledger = new RequestLedger(metrics, store, accessLog, time);
        var sticky = new StickyCookie();
        metrics.ObserveConnections(budget);
        var fastPath = _fastPath = new FastPathForwarder(routes, targets, ledger, sticky, clients, budget, metrics, loggerFactory);
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { ApplicationName = "Flotilla.Proxy", ContentRootPath = stateDirectory.Path, Args = FleetHost.HostArgs });
        builder.Logging.ClearProviders();
        builder.Services.AddSingleton(loggerFactory);
        builder.WebHost.UseKestrelHttpsConfiguration();
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.AddServerHeader = false;
            kestrel.Limits.KeepAliveTimeout = clients.KeepAliveTimeout;
            kestrel.Limits.RequestHeadersTimeout = clients.RequestTimeout;
            foreach (var listener in listeners.All)
            {
                if (FastPathForwarder.Serves(listener))
                {
                    // The event loops own the socket; Kestrel gets the connections they hand over.
                    kestrel.Listen(new HandOverEndPoint(listener.Name), options => Configure(options, listener, budget));
                }
                else
                {
                    kestrel.Listen(listener.Spec.Listen.ToIPAddress(), listener.Spec.Listen.Port, options => Configure(options, listener, budget));
                }
            }
        });

        builder.Services.AddSingleton<IConnectionListenerFactory>(fastPath.HandOvers);
        builder.Services.AddHttpForwarder();
        builder.Services.AddSingleton(routes);
        builder.Services.AddSingleton(listeners);
        builder.Services.AddSingleton(targets);
        builder.Services.AddSingleton(ledger);
        builder.Services.AddSingleton<ForwarderClient>();
        builder.Services.AddSingleton(sticky);

        var app = builder.Build();
        metrics.ObserveAccessLog(accessLog);
        fleet.Changed += ApplyAccessLog;
        app.UseMiddleware<ProxyMiddleware>();
        try
        {
            foreach (var listener in listeners.All.Where(FastPathForwarder.Serves))
            {
                fastPath.Bind(listener);
            }

            await app.StartAsync(cancellationToken);
        }
        catch (Exception e) when (e is IOException { InnerException: AddressInUseException } or SocketException)
        {
            await app.DisposeAsync();
            throw new IOException(BindFailure(e), e);
        }
        catch (IOException)
        {
            await app.DisposeAsync();
            throw;
        }

        _app = app;
        fastPath.Start();
        foreach (var listener in listeners.All)
        {
            LogListening(listener.Name, listener.Address);
        }
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (_fastPath is not null)
        {
            await _fastPath.StopAsync(cancellationToken);
        }

        if (_app is not null)
        {
            await _app.StopAsync(cancellationToken);
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_app is not null)
        {
            await _app.DisposeAsync();
        }

        if (_fastPath is not null)
        {
            await _fastPath.DisposeAsync();
        }

        // Not the container's to dispose (it was handed an instance): the last lines are written once no request is left.
        if (_accessLog is not null)
        {
            fleet.Changed -= ApplyAccessLog;
            await _accessLog.DisposeAsync();
        }
    }

    /// <summary>Which listener could not bind, and why: the one line <c>flotilla up</c> prints instead of Kestrel's.</summary>
    private string BindFailure(Exception e)
    {
        var reason = e is SocketException socket ? socket.Message : "address already in use";
        var failed = listeners.All.FirstOrDefault(l => e.Message.Contains($"://{l.Spec.Listen}:", StringComparison.Ordinal))
            ?? (listeners.All.Count == 1 ? listeners.All[0] : null);
        return failed is null
            ? $"cannot listen on {string.Join(", ", listeners.All.Select(l => $"{l.Spec.Listen} (listener {l.Name})"))}: {reason}"
            : $"listener {failed.Name}: cannot listen on {failed.Spec.Listen}: {reason}";
    }

    /// <summary>An apply's access-log settings take effect at once (the writer ignores a spec equal to its own).</summary>
    private void ApplyAccessLog(FleetState state) => _accessLog?.Apply(state.Spec.AccessLog);

    /// <summary>
    /// The connection limit: <paramref name="maxConnections"/>, else what the open-files limit leaves room for. A limit
    /// the descriptors cannot back is refused, as HAProxy refuses a <c>maxconn</c> its file limit cannot back: near it,
    /// everything that opens a file would fail, and the .NET runtime aborts. A small open-files limit is warned about.
    /// </summary>
    /// <exception cref="IOException">The open-files limit leaves room for fewer than <paramref name="maxConnections"/>.</exception>
    private ConnectionBudget NewBudget(int? maxConnections)
    {
        var openFiles = ConnectionBudget.OpenFilesLimit();
        var room = ConnectionBudget.DefaultFor(openFiles);
        if (maxConnections > room)
        {
            throw new IOException(
                $"loadBalancer.maxConnections is {maxConnections}, but the open-files limit ({openFiles}) leaves room for {room} client connections " +
                $"(each takes a descriptor, and its connection to a task another): raise the limit to at least {ConnectionBudget.OpenFilesFor(maxConnections.Value)} " +
                "(LimitNOFILE= in a systemd unit, ulimit -n) or lower maxConnections");
        }

        if (maxConnections is null && openFiles < 4096)
        {
            LogFewOpenFiles(openFiles, room);
        }

        return new ConnectionBudget(maxConnections ?? room, loggerFactory.CreateLogger<ConnectionBudget>());
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "the open-files limit is {OpenFiles}: the load balancer holds at most {Room} client connections (loadBalancer.maxConnections); raise it (LimitNOFILE= in a systemd unit, ulimit -n) for more")]
    private partial void LogFewOpenFiles(long openFiles, int room);

    private void Configure(ListenOptions options, ListenerRuntime listener, ConnectionBudget budget)
    {
        var handedOver = options.EndPoint is HandOverEndPoint;
        if (!handedOver)
        {
            listener.Endpoint = options;
        }

        // First, so that it counts a TLS connection from its accept, handshake included.
        options.Use(next => budget.Count(next, listener.Name, handedOver));

        options.Protocols = listener.Spec.OffersHttp2 ? HttpProtocols.Http1AndHttp2 : HttpProtocols.Http1;
        if (listener.Spec.Protocol == ListenerProtocol.Https)
        {
            var certificates = Certificates.Load(listener.Spec.Tls!, spec.BaseDirectory);
            List<SslApplicationProtocol> alpn = listener.Spec.OffersHttp2 ? [SslApplicationProtocol.Http2, SslApplicationProtocol.Http11] : [SslApplicationProtocol.Http11];
            options.UseHttps(new TlsHandshakeCallbackOptions
            {
                OnConnection = context => ValueTask.FromResult(new SslServerAuthenticationOptions
                {
                    ServerCertificateContext = certificates.Select(context.ClientHelloInfo.ServerName),
                    ApplicationProtocols = alpn,
                }),
            });
        }

        options.Use(listener.TagConnections());
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "listener {Listener} accepting on {Address}")]
    private partial void LogListening(string listener, string address);
}
