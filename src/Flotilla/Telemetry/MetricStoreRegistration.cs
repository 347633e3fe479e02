using Flotilla.Core.Metrics;

namespace Flotilla.Telemetry;

/// <summary>
/// What the metric store's shell reads from the rest of Flotilla, as plain functions so that it depends on none of
/// the scheduler's or the proxy's types.
/// </summary>
/// <param name="Services">The names of the fleet's services: the API answers 404 for any other.</param>
/// <param name="RunningTasks">The tasks running now, read once a second: their PIDs, and their in-flight counts if known.</param>
internal sealed record MetricsFleet(Func<IReadOnlyCollection<string>> Services, Func<IEnumerable<RunningTask>> RunningTasks);

internal static class MetricStoreRegistration
{
    /// <summary>
    /// Registers the <see cref="MetricStore"/> (a singleton the proxy records into and the autoscaler reads) and its
    /// once-a-second tick, which samples the tasks' CPU, RSS and in-flight requests.
    /// </summary>
    public static IServiceCollection AddFlotillaMetricStore(this IServiceCollection services, Func<IServiceProvider, MetricsFleet> fleet)
    {
        services.AddSingleton(fleet);
        services.AddSingleton(sp => new MetricStore(sp.GetRequiredService<TimeProvider>()));
        services.AddSingleton(sp => new TaskSampler(
            sp.GetRequiredService<MetricStore>(),
            sp.GetRequiredService<MetricsFleet>().RunningTasks,
            ProcFs.Read,
            sp.GetRequiredService<TimeProvider>(),
            ProcFs.ClockTicksPerSecond));
        services.AddHostedService<MetricsTicker>();
        return services;
    }
}
