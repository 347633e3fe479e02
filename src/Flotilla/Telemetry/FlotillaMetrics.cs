using System.Diagnostics;
using System.Diagnostics.Metrics;
using Flotilla.Core.Fleet;
using Flotilla.Core.Health;
using Flotilla.Proxy;
using Flotilla.Proxy.AccessLog;
using Flotilla.Proxy.Forwarding;
using Flotilla.Proxy.Targets;
using Flotilla.Scheduling;

namespace Flotilla.Telemetry;

/// <summary>
/// Flotilla's one <see cref="Meter"/>. Instrument names follow OpenTelemetry's conventions; the Prometheus exporter turns
/// <c>flotilla.requests</c> into <c>flotilla_requests_total</c>, <c>flotilla.request.duration</c> (seconds) into
/// <c>flotilla_request_duration_seconds</c>, and so on.
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
    private static readonly TaskState[] LiveStates = [TaskState.Pending, TaskState.Running, TaskState.Draining, TaskState.Stopping];

    private readonly Counter<long> _requests;
    private readonly Counter<long> _targetRequests;
    private readonly Histogram<double> _duration;
    private readonly Histogram<double> _targetResponseTime;
    private readonly Counter<long> _ejections;
    private readonly Counter<long> _handOvers;
    private readonly FleetView _fleet;
    private TargetGroups? _targets;
    private AccessLogWriter? _accessLog;
    private ConnectionBudget? _connections;

    public FlotillaMetrics(IMeterFactory meterFactory, FleetView fleet)
    {
        _fleet = fleet;
        var meter = meterFactory.Create(MeterName);
        _requests = meter.CreateCounter<long>(
            "flotilla.requests",
            unit: "{request}",
            description: "Requests answered by the load balancer, by listener, service and status code.");
        _targetRequests = meter.CreateCounter<long>(
            "flotilla.target.requests",
            unit: "{request}",
            description: "Requests forwarded to each task, by service, task and status code.");
        _duration = meter.CreateHistogram(
            "flotilla.request.duration",
            unit: "s",
            description: "Time from a request's arrival at the load balancer to the end of its response, by listener and service.",
            tags: null,
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = DurationBuckets });
        _targetResponseTime = meter.CreateHistogram(
            "flotilla.target.response_time",
            unit: "s",
            description: "Time from forwarding a request to a task to the end of the task's response (ALB's TargetResponseTime), by service and task.",
            tags: null,
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = DurationBuckets });
        _ejections = meter.CreateCounter<long>(
            "flotilla.ejections",
            unit: "{ejection}",
            description: "Tasks taken out of the load balancer by passive health (outlier detection), by service.");
        _handOvers = meter.CreateCounter<long>(
            "flotilla.fastpath.handovers",
            unit: "{connection}",
            description: "Connections the HTTP/1.1 fast path handed to the full HTTP stack (Kestrel + YARP), by listener and reason; the connection's later requests take that path too.");
        meter.CreateObservableGauge("flotilla.targets", ObserveTargets, unit: "{target}", description: "Running tasks of each service by readiness; only healthy ones receive traffic (except in panic mode).");
        meter.CreateObservableGauge("flotilla.tasks", ObserveTasks, unit: "{task}", description: "Tasks of each service that are not yet stopped, by state.");
        meter.CreateObservableGauge("flotilla.target.in_flight", ObserveInFlight, unit: "{request}", description: "Requests forwarded to each task and not yet answered.");
        meter.CreateObservableGauge("flotilla.target.ejected", ObserveEjected, unit: "{target}", description: "Tasks of each service currently ejected by passive health.");
        meter.CreateObservableGauge("flotilla.panic", ObservePanic, unit: "{service}", description: "1 while a service is in panic mode (too few healthy tasks: routing to all), else 0.");
        meter.CreateObservableGauge("flotilla.connections", () => _connections?.Open ?? 0, unit: "{connection}", description: "Client connections the load balancer holds, across its listeners.");
        meter.CreateObservableGauge("flotilla.connections.limit", () => _connections?.Limit ?? 0, unit: "{connection}", description: "The most client connections the load balancer holds at once (loadBalancer.maxConnections); more wait in the listen backlog.");
        meter.CreateObservableCounter("flotilla.connections.rejected", () => _connections?.Rejected ?? 0, unit: "{connection}", description: "Connections an HTTPS listener closed as soon as it accepted them, the load balancer being at its connection limit (loadBalancer.maxConnections).");
        meter.CreateObservableCounter("flotilla.access_log.dropped", () => _accessLog?.Dropped ?? 0, unit: "{line}", description: "Access-log lines dropped because the writer could not keep up, or could not write them (a full disk).");
    }

    public void ObserveTargets(TargetGroups targets) => _targets = targets;

    public void ObserveAccessLog(AccessLogWriter accessLog) => _accessLog = accessLog;

    public void ObserveConnections(ConnectionBudget connections) => _connections = connections;

    public void RecordRequest(ProxyRequest request)
    {
        var statusCode = request.StatusCode;
        var code = (uint)statusCode < StatusCodes.Length ? StatusCodes[statusCode] : "other";
        _requests.Add(1, new TagList { { "listener", request.Listener }, { "service", request.Service }, { "code", code } });
        if (request.Target is { } target)
        {
            _targetRequests.Add(1, new TagList { { "service", target.Service }, { "task", target.TaskId }, { "code", code } });
            _targetResponseTime.Record(
                request.UpstreamTime.TotalSeconds,
                new KeyValuePair<string, object?>("service", target.Service),
                new KeyValuePair<string, object?>("task", target.TaskId));
        }

        _duration.Record(
            Stopwatch.GetElapsedTime(request.StartTimestamp, request.EndTimestamp).TotalSeconds,
            new KeyValuePair<string, object?>("listener", request.Listener),
            new KeyValuePair<string, object?>("service", request.Service));
    }

    public void RecordEjection(string service) => _ejections.Add(1, new KeyValuePair<string, object?>("service", service));

    /// <summary>A connection leaves the fast path; <paramref name="reason"/> is one of its few fixed decline reasons.</summary>
    public void RecordHandOver(string listener, string reason) =>
        _handOvers.Add(1, new KeyValuePair<string, object?>("listener", listener), new KeyValuePair<string, object?>("reason", reason));

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

    private IEnumerable<Measurement<int>> ObserveInFlight() =>
        (_targets?.ByService.Values ?? []).SelectMany(g => g.All).Select(t => new Measurement<int>(
            t.InFlight,
            new KeyValuePair<string, object?>("service", t.Service),
            new KeyValuePair<string, object?>("task", t.TaskId)));

    private IEnumerable<Measurement<int>> ObserveEjected() =>
        (_targets?.ByService.Values ?? []).Select(g => new Measurement<int>(
            g.All.Count(t => t.EjectedUntil != 0),
            new KeyValuePair<string, object?>("service", g.Service.Name)));

    private IEnumerable<Measurement<int>> ObservePanic() =>
        (_targets?.ByService.Values ?? []).Select(g => new Measurement<int>(
            g.Current.Panic ? 1 : 0,
            new KeyValuePair<string, object?>("service", g.Service.Name)));
}
