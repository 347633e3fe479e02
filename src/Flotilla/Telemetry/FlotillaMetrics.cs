using System.Diagnostics;
using System.Diagnostics.Metrics;
using Flotilla.Core.Fleet;
using Flotilla.Core.Health;
using Flotilla.Scheduling;

namespace Flotilla.Telemetry;

/// <summary>
/// Flotilla's one <see cref="Meter"/>. Instrument names follow OpenTelemetry conventions; the Prometheus exporter turns
/// them into <c>flotilla_requests_total</c>, <c>flotilla_request_duration_seconds</c>, <c>flotilla_targets</c> and
/// <c>flotilla_tasks</c>.
/// </summary>
internal sealed class FlotillaMetrics
{
    public const string MeterName = "Flotilla";

    /// <summary>Latency buckets in seconds, 1 ms to 30 s: fine where web requests live, coarse in the tail.</summary>
    private static readonly double[] DurationBuckets = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

    /// <summary>Status codes as label values, made once rather than per request.</summary>
    private static readonly string[] StatusCodes = Enumerable.Range(0, 600).Select(i => i.ToString(System.Globalization.CultureInfo.InvariantCulture)).ToArray();

    private static readonly HealthState[] HealthStates = Enum.GetValues<HealthState>();
    private static readonly string[] HealthLabels = HealthStates.Select(h => h.ToString().ToLowerInvariant()).ToArray();
    private static readonly TaskState[] LiveStates = [TaskState.Pending, TaskState.Running, TaskState.Stopping];

    private readonly Counter<long> _requests;
    private readonly Histogram<double> _duration;
    private readonly FleetView _fleet;

    public FlotillaMetrics(IMeterFactory meterFactory, FleetView fleet)
    {
        _fleet = fleet;
        var meter = meterFactory.Create(MeterName);
        _requests = meter.CreateCounter<long>(
            "flotilla.requests",
            unit: "{request}",
            description: "Requests answered by the load balancer, by listener, service and status code.");
        _duration = meter.CreateHistogram(
            "flotilla.request.duration",
            unit: "s",
            description: "Time from a request's arrival at the load balancer to the end of its response, by service.",
            tags: null,
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = DurationBuckets });
        meter.CreateObservableGauge(
            "flotilla.targets",
            ObserveTargets,
            unit: "{target}",
            description: "Running tasks of each service by health; only healthy ones receive traffic.");
        meter.CreateObservableGauge(
            "flotilla.tasks",
            ObserveTasks,
            unit: "{task}",
            description: "Tasks of each service that are not yet stopped, by state.");
    }

    public void RecordRequest(string listener, string service, int statusCode, long startTimestamp)
    {
        var code = (uint)statusCode < StatusCodes.Length ? StatusCodes[statusCode] : "other";
        _requests.Add(1, new TagList { { "listener", listener }, { "service", service }, { "code", code } });
        _duration.Record(Stopwatch.GetElapsedTime(startTimestamp).TotalSeconds, new KeyValuePair<string, object?>("service", service));
    }

    private IEnumerable<Measurement<int>> ObserveTargets()
    {
        var state = _fleet.Current;
        foreach (var service in state.OrderedServices)
        {
            var running = state.TasksOf(service.Name).Where(t => t.State == TaskState.Running).ToList();
            for (var i = 0; i < HealthStates.Length; i++)
            {
                var health = HealthStates[i];
                yield return new Measurement<int>(
                    running.Count(t => t.Health.State == health),
                    new KeyValuePair<string, object?>("service", service.Name),
                    new KeyValuePair<string, object?>("health", HealthLabels[i]));
            }
        }
    }

    private IEnumerable<Measurement<int>> ObserveTasks()
    {
        var state = _fleet.Current;
        foreach (var service in state.OrderedServices)
        {
            foreach (var taskState in LiveStates)
            {
                yield return new Measurement<int>(
                    state.TasksOf(service.Name).Count(t => t.State == taskState),
                    new KeyValuePair<string, object?>("service", service.Name),
                    new KeyValuePair<string, object?>("state", taskState.ToString().ToLowerInvariant()));
            }
        }
    }
}
