using System.Net.Sockets;
using Flotilla.Api;
using Flotilla.Autoscaling;
using Flotilla.Core.Events;
using Flotilla.Core.Fleet;
using Flotilla.Core.Spec;
using Flotilla.Health;
using Flotilla.Proxy;
using Flotilla.Proxy.Routing;
using Flotilla.Proxy.Targets;
using Flotilla.Runtime;
using Flotilla.Scheduling;
using Flotilla.Telemetry;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Options;
using OpenTelemetry.Metrics;

namespace Flotilla.Hosting;

/// <summary><c>flotilla up</c>: validate the spec, then run the admin API, the proxy and the scheduler until told to stop.</summary>
internal static class FleetHost
{
    /// <summary>
    /// Settings for Flotilla's own web hosts: no appsettings.json is read, so none is watched (a FileSystemWatcher per host
    /// otherwise, on the state directory).
    /// </summary>
    public static readonly string[] HostArgs = ["--hostBuilder:reloadConfigOnChange=false"];

    /// <summary>Instruments of .NET's "System.Runtime" meter that /metrics leaves out (see where the meter is added).</summary>
    private static readonly string[] RuntimeInstrumentsLeftOut =
        ["dotnet.thread_pool.thread.count", "dotnet.thread_pool.queue.length", "dotnet.assembly.count", "dotnet.process.cpu.count", "dotnet.timer.count"];

    public const int ExitOk = 0;
    public const int ExitFailure = 1;
    public const int ExitInvalidSpec = 2;

    /// <summary>Reads and validates a spec file; errors, then warnings, are written to <paramref name="error"/> one per line.</summary>
    public static SpecDocument? LoadSpec(string file, TextWriter error)
    {
        string yaml;
        try
        {
            yaml = File.ReadAllText(file);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            error.WriteLine($"{file}: cannot read the spec: {e.Message}");
            return null;
        }

        var result = SpecLoader.Load(yaml, file, Path.GetDirectoryName(Path.GetFullPath(file))!);
        foreach (var diagnostic in result.Errors.Concat(result.Warnings))
        {
            error.WriteLine(diagnostic);
        }

        return result.Document;
    }

    public static async Task<int> RunAsync(string specFile, string? stateDirectory, LogLevel logLevel, TextWriter output, TextWriter error)
    {
        var spec = LoadSpec(specFile, error);
        if (spec is null)
        {
            return ExitInvalidSpec;
        }

        var preflight = Preflight.Check(spec);
        if (preflight.Count > 0)
        {
            preflight.ForEach(error.WriteLine);
            return ExitInvalidSpec;
        }

        var state = new StateDirectory(stateDirectory ?? StateDirectory.DefaultFor(specFile));
        if (state.FindRunningInstance() is { } other)
        {
            error.WriteLine($"another Flotilla (pid {other.Pid}, admin {other.Url}) is running with state directory {state.Path}; stop it, or pass --state-dir");
            return ExitFailure;
        }

        try
        {
            state.Prepare();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            error.WriteLine($"cannot prepare the state directory {state.Path}: {e.Message}");
            return ExitFailure;
        }

        await using var app = Build(spec, state, logLevel);
        try
        {
            await app.StartAsync();
        }
        catch (Exception e) when (e is IOException or SocketException or OptionsValidationException)
        {
            // The listeners' bind failures come named from the proxy; what Kestrel reports itself is the admin API's.
            var reason = e switch
            {
                IOException { InnerException: AddressInUseException } => $"admin API: cannot listen on {spec.Spec.Admin.Listen}: address already in use",
                SocketException socket => $"admin API: cannot listen on {spec.Spec.Admin.Listen}: {socket.Message}",
                _ => e.Message,
            };
            error.WriteLine($"flotilla could not start: {reason}");
            return ExitFailure;
        }

        var listeners = app.Services.GetRequiredService<ListenerDirectory>();
        var admin = app.Services.GetRequiredService<AdminEndpoint>();
        var info = new AdminInfo(
            admin.Url,
            app.Services.GetRequiredService<AdminToken>().Value,
            Environment.ProcessId,
            app.Services.GetRequiredService<TimeProvider>().GetUtcNow(),
            Path.GetFullPath(specFile),
            listeners.Addresses.ToDictionary());
        state.WriteAdminInfo(info);
        output.WriteLine($"flotilla is up: admin API {admin.Url} (token in {state.AdminFile})");
        foreach (var (name, address) in info.Listeners)
        {
            output.WriteLine($"  listener {name}: {address}");
        }

        await app.WaitForShutdownAsync();
        state.DeleteAdminInfo();

        // The host stops itself when the scheduler's loop dies; that is a failure, however orderly the stop.
        if (app.Services.GetRequiredService<FleetController>().ExecuteTask is { IsFaulted: true } failed)
        {
            error.WriteLine($"flotilla stopped because its scheduler failed: {failed.Exception.GetBaseException()}");
            return ExitFailure;
        }

        return ExitOk;
    }

    private static WebApplication Build(SpecDocument spec, StateDirectory state, LogLevel logLevel)
    {
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { ApplicationName = "Flotilla", ContentRootPath = state.Path, Args = HostArgs });

        builder.Logging.ClearProviders();
        builder.Logging.SetMinimumLevel(logLevel);
        builder.Logging.AddFilter("Microsoft", LogLevel.Warning);
        builder.Logging.AddFilter("System.Net.Http", LogLevel.Warning);
        builder.Logging.AddFilter("Yarp", LogLevel.Warning);

        // The generic host logs a failed start with its stack trace (twice: the proxy's server is a host too); `up`
        // prints the reason in one line instead. A failed background service still shows, as the critical stop.
        builder.Logging.AddFilter("Microsoft.Extensions.Hosting.Internal.Host", LogLevel.Critical);

        // With this category enabled at any level, ASP.NET starts an Activity per request for its log scopes: the proxy
        // starts its own (to continue the client's trace), and one per request is enough.
        builder.Logging.AddFilter("Microsoft.AspNetCore.Hosting.Diagnostics", LogLevel.None);
        builder.Logging.AddSimpleConsole(o =>
        {
            o.SingleLine = true;
            o.TimestampFormat = "HH:mm:ss.fff ";
            o.UseUtcTimestamp = false;
        });

        var adminEndpoint = new AdminEndpoint();
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.AddServerHeader = false;
            kestrel.Listen(spec.Spec.Admin.Listen.ToIPAddress(), spec.Spec.Admin.Listen.Port, o => adminEndpoint.Options = o);
        });

        var longestStop = spec.Spec.Services.Select(s => s.StopTimeout).DefaultIfEmpty(TimeSpan.Zero).Max();
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = longestStop + TimeSpan.FromSeconds(15));
        builder.Services.AddOptions<AdminOptions>()
            .Configure(o =>
            {
                o.Listen = spec.Spec.Admin.Listen;
                o.StateDirectory = state.Path;
            })
            .ValidateOnStart();
        builder.Services.AddSingleton<IValidateOptions<AdminOptions>, AdminOptionsValidator>();

        builder.Services.AddSingleton(spec);
        builder.Services.AddSingleton(state);
        builder.Services.AddSingleton(adminEndpoint);
        builder.Services.AddSingleton(TimeProvider.System);
        builder.Services.AddSingleton<AdminToken>();
        builder.Services.AddSingleton<EventLog>(_ => new EventLog());
        builder.Services.AddSingleton<EventSinks>();
        builder.Services.AddSingleton(new FleetView(FleetState.FromSpec(spec.Resolved, TimeProvider.System.GetUtcNow())));
        builder.Services.AddSingleton<PortAllocator>();
        builder.Services.AddSingleton<HealthChecker>();
        builder.Services.AddSingleton<ITaskDriver, ProcessTaskDriver>();
        builder.Services.AddSingleton<FlotillaMetrics>();
        builder.Services.ConfigureHttpJsonOptions(o => o.SerializerOptions.TypeInfoResolverChain.Insert(0, FlotillaJson.Default));

        // Hosted services stop in reverse order: the proxy stops accepting before the scheduler stops the tasks.
        builder.Services.AddSingleton<FleetController>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<FleetController>());
        builder.Services.AddSingleton(new ListenerDirectory(spec.Spec));
        builder.Services.AddSingleton<TargetGroups>();
        builder.Services.AddSingleton<RoutingTable>();
        builder.Services.AddSingleton<ITargetDrainer>(sp => sp.GetRequiredService<TargetGroups>());
        builder.Services.AddSingleton<ProxyServer>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<ProxyServer>());

        builder.Services.AddFlotillaMetricStore(sp =>
        {
            var fleet = sp.GetRequiredService<FleetView>();
            var targets = sp.GetRequiredService<TargetGroups>();
            var time = sp.GetRequiredService<TimeProvider>();
            return new MetricsFleet(
                Services: () => fleet.Current.ServiceOrder,
                RunningTasks: () => fleet.Current.Tasks.Values
                    .Where(t => t.State is TaskState.Running or TaskState.Draining && t.Pid is not null)
                    .Select(t => new RunningTask(t.Service, t.Id, t.Pid!.Value, targets.Find(t.Service, t.Id) is { } target ? InFlightReading.Of(target, time.GetTimestamp()) : null)));
        });

        builder.Services.AddFlotillaAutoscaler();

        // Every scrape fresh (the exporter caches a response for 300 ms by default): a /metrics read right after an action
        // sees it, as an operator checking by hand, or a test, expects. "System.Runtime" is .NET's own meter (GC, heap, JIT,
        // CPU, lock contention), read at scrape time only, so free on the request path. Left out: the thread-pool thread
        // count and queue length, which this exporter writes as counters although they go down, and the three gauges
        // named `*_count`, which promtool rejects (that suffix belongs to histograms).
        builder.Services.AddOpenTelemetry().WithMetrics(metrics => RuntimeInstrumentsLeftOut
            .Aggregate(metrics.AddMeter(FlotillaMetrics.MeterName, "System.Runtime"), (m, name) => m.AddView(name, MetricStreamConfiguration.Drop))
            .AddPrometheusExporter(prometheus => prometheus.ScrapeResponseCacheDurationMilliseconds = 0));

        var app = builder.Build();
        app.Services.GetRequiredService<EventSinks>();
        app.Services.GetRequiredService<FlotillaMetrics>();
        app.MapAdminApi().MapMetricsApi().MapDeploymentsApi().MapAutoscalingApi();
        app.MapPrometheusScrapingEndpoint("/metrics");
        return app;
    }
}

/// <summary>The admin API's bound address, known once Kestrel has started (port 0 resolved).</summary>
internal sealed class AdminEndpoint
{
    public ListenOptions? Options { get; set; }

    public string Url => "http://" + (Options?.IPEndPoint?.ToString() ?? "unbound");
}
