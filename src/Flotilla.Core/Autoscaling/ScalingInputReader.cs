using System.Collections.Immutable;
using Flotilla.Core.Fleet;
using Flotilla.Core.Metrics;

namespace Flotilla.Core.Autoscaling;

/// <summary>
/// Reads one evaluation's figures for a service from the <see cref="MetricStore"/> and the fleet: the mean of each metric
/// its policies name over the last evaluation interval (one datapoint per evaluation, as one CloudWatch period is one
/// alarm datapoint). It lives beside the decider rather than in the shell because it does no I/O — the store is in
/// memory — so that tests can drive the whole path, from a synthetic trace recorded into a store on a fake clock to a
/// decision, without a process.
/// </summary>
public static class ScalingInputReader
{
    private const double BytesPerMiB = 1024 * 1024;

    /// <summary>The figures of one evaluation of <paramref name="service"/>.</summary>
    /// <param name="store">The metric store.</param>
    /// <param name="fleet">The fleet as last published.</param>
    /// <param name="service">The service, with an autoscaling block.</param>
    /// <param name="policies">Its policies, which say what to read.</param>
    /// <param name="now">The evaluation's time.</param>
    public static ScalingInputs Read(MetricStore store, FleetState fleet, ServiceState service, ImmutableArray<IScalingPolicy> policies, DateTimeOffset now)
    {
        var spec = service.Spec;
        var autoscaling = spec.Autoscaling ?? throw new ArgumentException($"service {spec.Name} has no autoscaling", nameof(service));
        var window = autoscaling.EvaluationInterval;
        var inService = fleet.TasksOf(spec.Name).Where(t => t.IsInService).OrderBy(t => t.Sequence).ToList();
        var metrics = ImmutableDictionary.CreateBuilder<string, MetricReading>(StringComparer.Ordinal);
        foreach (var metric in policies.Select(p => p.Metric).OfType<ScalingMetric>().DistinctBy(m => m.Name))
        {
            metrics[metric.Name] = metric.Name switch
            {
                ScalingMetrics.Cpu => PerTask(Metric.Cpu, 1 / (spec.Resources.Cpu ?? 1)),
                ScalingMetrics.Memory => PerTask(Metric.Rss, 100 / ((spec.Resources.MemoryMb ?? double.NaN) * BytesPerMiB)),
                ScalingMetrics.ActiveRequests => new MetricReading { Service = store.Average(spec.Name, Metric.InFlight, window) },
                ScalingMetrics.RequestsPerTarget => new MetricReading { Service = store.Average(spec.Name, Metric.Requests, window) },
                _ when metric.Kind == ScalingMetricKind.Latency => new MetricReading { Service = store.Percentile(spec.Name, metric.Quantile, window) * 1000 },
                _ => new MetricReading { Service = store.Average(spec.Name, Metric.Custom(metric.Name), window) },
            };
        }

        return new ScalingInputs(now, service.Desired, inService.Count, metrics.ToImmutable(), DeploymentInProgress: service.ActiveDeployment is not null);

        // A task's own figure is a share of the load only while the same tasks share it: read it since the last task
        // joined, or the seconds before a scale-out — when fewer tasks carried everything — would make the old tasks
        // look busy for a whole window after it and ask for the same tasks again. A task is warming up for `warmup`
        // after it first became healthy (before that it was not in service at all).
        MetricReading PerTask(Metric metric, double scale)
        {
            var joined = inService.Count == 0 ? now : inService.Max(t => t.HealthyAt!.Value);
            var shared = TimeSpan.FromSeconds(Math.Clamp(Math.Floor((now - joined).TotalSeconds), 1, window.TotalSeconds));
            return new MetricReading
            {
                Tasks = inService
                    .Select(t => new TaskReading(t.Id, store.Average(spec.Name, metric, shared, t.Id) * scale, now - t.HealthyAt!.Value < autoscaling.Warmup))
                    .ToImmutableArray(),
            };
        }
    }
}
