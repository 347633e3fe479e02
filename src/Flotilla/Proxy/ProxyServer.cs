using Flotilla.Core.Spec;
using Flotilla.Proxy.Routing;
using Flotilla.Proxy.Targets;
using Flotilla.Telemetry;
using Microsoft.AspNetCore.Server.Kestrel.Core;

namespace Flotilla.Proxy;

/// <summary>
/// The load balancer: one Kestrel server for all listeners, apart from the admin API's, whose only middleware is
/// <see cref="ProxyMiddleware"/>: route, pick a target, forward with YARP.
/// </summary>
internal sealed partial class ProxyServer(
    SpecDocument spec,
    TargetGroups targets,
    FlotillaMetrics metrics,
    TimeProvider time,
    ILoggerFactory loggerFactory) : IHostedService, IAsyncDisposable
{
    private readonly Dictionary<string, ListenOptions> _listenOptions = [];
    private readonly ILogger _logger = loggerFactory.CreateLogger<ProxyServer>();
    private WebApplication? _app;

    /// <summary>Each listener's bound address (<c>http://127.0.0.1:8080</c>), known once started; port 0 resolved.</summary>
    public IReadOnlyDictionary<string, string> ListenerAddresses =>
        _listenOptions.ToDictionary(kv => kv.Key, kv => "http://" + kv.Value.IPEndPoint);

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        if (spec.Spec.Listeners.IsEmpty)
        {
            return;
        }

        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { ApplicationName = "Flotilla.Proxy" });
        builder.Logging.ClearProviders();
        builder.Services.AddSingleton(loggerFactory);
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.AddServerHeader = false;
            foreach (var listener in spec.Spec.Listeners)
            {
                kestrel.Listen(listener.Listen.ToIPAddress(), listener.Listen.Port, options =>
                {
                    options.Use(Listeners.TagConnections(listener.Name));
                    _listenOptions[listener.Name] = options;
                });
            }
        });

        builder.Services.AddHttpForwarder();
        builder.Services.AddSingleton(new Router(spec.Spec));
        builder.Services.AddSingleton(targets);
        builder.Services.AddSingleton(metrics);
        builder.Services.AddSingleton(time);
        builder.Services.AddSingleton<ForwarderClient>();

        var app = builder.Build();
        app.UseMiddleware<ProxyMiddleware>();
        await app.StartAsync(cancellationToken);
        _app = app;
        foreach (var (name, address) in ListenerAddresses)
        {
            LogListening(name, address);
        }
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
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
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "listener {Listener} accepting on {Address}")]
    private partial void LogListening(string listener, string address);
}
