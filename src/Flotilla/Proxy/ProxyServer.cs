using System.Collections.Frozen;
using System.Diagnostics;
using System.Globalization;
using Flotilla.Core.Fleet;
using Flotilla.Core.Spec;
using Flotilla.Proxy.LoadBalancing;
using Flotilla.Scheduling;
using Flotilla.Telemetry;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Yarp.ReverseProxy.Configuration;

namespace Flotilla.Proxy;

/// <summary>
/// The load balancer: one Kestrel server for all listeners, apart from the admin API's, with YARP forwarding to each
/// service's healthy tasks. It follows the fleet through <see cref="FleetView"/> and keeps its last targets if the
/// scheduler stalls.
/// </summary>
internal sealed partial class ProxyServer(
    SpecDocument spec,
    FleetView fleet,
    FlotillaMetrics metrics,
    ILoggerFactory loggerFactory) : IHostedService, IAsyncDisposable
{
    private readonly Dictionary<string, ListenOptions> _listenOptions = [];
    private readonly ILogger _logger = loggerFactory.CreateLogger<ProxyServer>();
    private WebApplication? _app;
    private InMemoryConfigProvider? _config;
    private IReadOnlyList<RouteConfig> _routes = [];
    private string _targetsKey = "";

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
                    options.Use(ListenerMatcherPolicy.TagConnections(listener.Name));
                    _listenOptions[listener.Name] = options;
                });
            }
        });

        _routes = ProxyConfigFactory.Routes(spec.Spec);
        var initial = fleet.Current;
        _targetsKey = ProxyConfigFactory.TargetsKey(initial);
        builder.Services.AddReverseProxy().LoadFromMemory(_routes, ProxyConfigFactory.Clusters(initial));

        // AddReverseProxy registers DataProtection (for YARP's affinity cookies), whose default key ring is written under
        // ~/.aspnet. Flotilla writes nothing outside its state directory: keys live in memory, for this run only.
        builder.Services.AddSingleton<IDataProtectionProvider, EphemeralDataProtectionProvider>();
        builder.Services.AddFlotillaLoadBalancing();
        builder.Services.AddSingleton<MatcherPolicy, ListenerMatcherPolicy>();

        var app = builder.Build();
        var retryAfter = spec.Spec.Services.ToFrozenDictionary(
            s => s.Name,
            s => Math.Max(1, (int)Math.Ceiling(s.Health.Interval.TotalSeconds)).ToString(CultureInfo.InvariantCulture));
        app.Use(RecordMetrics);
        app.MapReverseProxy(proxy =>
        {
            proxy.Use((context, next) => NoHealthyTargets(context, next, retryAfter));
            proxy.UseLoadBalancing();
        });

        _config = app.Services.GetRequiredService<InMemoryConfigProvider>();
        fleet.Changed += OnFleetChanged;
        await app.StartAsync(cancellationToken);
        _app = app;
        foreach (var (name, address) in ListenerAddresses)
        {
            LogListening(name, address);
        }
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        fleet.Changed -= OnFleetChanged;
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

    private async Task RecordMetrics(HttpContext context, RequestDelegate next)
    {
        var start = Stopwatch.GetTimestamp();
        try
        {
            await next(context);
        }
        finally
        {
            var service = context.Features.Get<Yarp.ReverseProxy.Model.IReverseProxyFeature>()?.Cluster.Config.ClusterId ?? "";
            metrics.RecordRequest(ListenerMatcherPolicy.ListenerOf(context), service, context.Response.StatusCode, start);
        }
    }

    /// <summary>
    /// 503 with Retry-After when a service has no healthy task (YARP would answer a bare 503). Retry-After is the
    /// service's health-check interval: the soonest a task could come back.
    /// </summary>
    private static Task NoHealthyTargets(HttpContext context, Func<Task> next, FrozenDictionary<string, string> retryAfter)
    {
        var proxy = context.GetReverseProxyFeature();
        if (proxy.AvailableDestinations.Count > 0)
        {
            return next();
        }

        var service = proxy.Cluster.Config.ClusterId;
        context.Response.StatusCode = StatusCodes.Status503ServiceUnavailable;
        context.Response.Headers.RetryAfter = retryAfter.GetValueOrDefault(service, "1");
        context.Response.ContentType = "text/plain; charset=utf-8";
        return context.Response.WriteAsync($"no healthy targets for service {service}\n");
    }

    /// <summary>Runs on the scheduler's loop: hands YARP new clusters only when some service's healthy tasks changed.</summary>
    private void OnFleetChanged(FleetState state)
    {
        var key = ProxyConfigFactory.TargetsKey(state);
        if (key == _targetsKey)
        {
            return;
        }

        _targetsKey = key;
        _config!.Update(_routes, ProxyConfigFactory.Clusters(state));
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "listener {Listener} accepting on {Address}")]
    private partial void LogListening(string listener, string address);
}
