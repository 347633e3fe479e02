using System.Globalization;
using Flotilla.Core.Metrics;

namespace Flotilla.Core.Autoscaling;

/// <summary>How a scaling metric is measured, which decides how a policy turns it into a count.</summary>
public enum ScalingMetricKind
{
    /// <summary>Measured on each task (cpu, memory) and averaged over the tasks in service, those warming up counted at the target.</summary>
    TaskGauge,

    /// <summary>
    /// A total for the service, measured outside its tasks — requests/s and requests in flight at the load balancer, a
    /// queue's backlog — to be shared by the tasks in service: desired = ceil(total / target). Being the demand itself
    /// rather than what each task shows of it, it needs no warm-up, and it does not lag behind a scale-out.
    /// </summary>
    ServiceTotal,

    /// <summary>A value for the service that is already per task (a custom metric without perTask): desired = ceil(tasks × value / target).</summary>
    ServiceValue,

    /// <summary>A latency percentile: a secondary signal that adds tasks and holds off scale-in, but never removes tasks.</summary>
    Latency,
}

/// <summary>A metric a scaling policy names, with its unit and how it is measured.</summary>
/// <param name="Name">As the spec writes it: <c>cpu</c>, <c>active_requests</c>, <c>queue_depth</c>.</param>
/// <param name="Kind">How it is measured.</param>
/// <param name="Unit">Written after a value: <c>%</c>, <c>/s</c>, <c>ms</c>, or nothing.</param>
/// <param name="Quantile">For latency, the percentile read from the metric store.</param>
/// <param name="Custom">Pushed to Flotilla (<c>PUT /api/v1/metrics</c>) rather than measured by it.</param>
public sealed record ScalingMetric(string Name, ScalingMetricKind Kind, string Unit, double Quantile = 0, bool Custom = false)
{
    /// <summary>What a value is "per": a target for the load balancer's and the tasks' own metrics, a task for a shared total.</summary>
    private string Per => Kind switch
    {
        ScalingMetricKind.TaskGauge => " per target",
        ScalingMetricKind.ServiceTotal => Custom ? " per task" : " per target",
        _ => "",
    };

    /// <summary>The metric's value for people: <c>active_requests 14.2 per target</c>, <c>cpu 85% per target</c>, <c>p95_latency 340ms</c>.</summary>
    public string Describe(double value) => $"{Name} {Format(value)}{Per}";

    /// <summary>A value with its unit: <c>14.2</c>, <c>85%</c>, <c>120/s</c>, <c>340ms</c>.</summary>
    public string Format(double value) => ScalingMetrics.Number(value) + Unit;
}

/// <summary>The metrics scaling policies can track, by the names the spec uses.</summary>
public static class ScalingMetrics
{
    /// <summary>CPU of each task, in % of one core or of its <c>resources.cpu</c>.</summary>
    public const string Cpu = "cpu";

    /// <summary>Resident memory of each task, in % of its <c>resources.memoryMb</c>.</summary>
    public const string Memory = "memory";

    /// <summary>Requests per second the load balancer answered for the service (503s included: they are demand), per task in service.</summary>
    public const string RequestsPerTarget = "requests_per_target";

    /// <summary>Requests in flight at the load balancer for the service (its tasks' summed each second), per task in service.</summary>
    public const string ActiveRequests = "active_requests";

    /// <summary>95th percentile latency at the load balancer, in ms.</summary>
    public const string P95Latency = "p95_latency";

    /// <summary>99th percentile latency at the load balancer, in ms.</summary>
    public const string P99Latency = "p99_latency";

    /// <summary>The built-in names, in the order the docs list them.</summary>
    public static IReadOnlyList<string> BuiltIn { get; } = [Cpu, Memory, RequestsPerTarget, ActiveRequests, P95Latency, P99Latency];

    /// <summary>
    /// The metric a policy names; a name that is not built in is a custom metric pushed through the API, a total to share
    /// among tasks when <paramref name="perTask"/>. The error lists what is valid.
    /// </summary>
    public static bool TryResolve(string name, bool perTask, out ScalingMetric metric, out string error)
    {
        error = "";
        metric = name switch
        {
            Cpu => new ScalingMetric(name, ScalingMetricKind.TaskGauge, "%"),
            Memory => new ScalingMetric(name, ScalingMetricKind.TaskGauge, "%"),
            RequestsPerTarget => new ScalingMetric(name, ScalingMetricKind.ServiceTotal, "/s"),
            ActiveRequests => new ScalingMetric(name, ScalingMetricKind.ServiceTotal, ""),
            P95Latency => new ScalingMetric(name, ScalingMetricKind.Latency, "ms", 0.95),
            P99Latency => new ScalingMetric(name, ScalingMetricKind.Latency, "ms", 0.99),
            _ => new ScalingMetric(name, perTask ? ScalingMetricKind.ServiceTotal : ScalingMetricKind.ServiceValue, "", Custom: true),
        };
        var valid = $"valid: {string.Join(", ", BuiltIn)}, or a custom metric's name";
        if (name.Length == 0)
        {
            error = $"is required; {valid}";
        }
        else if (BuiltIn.Contains(name))
        {
            error = perTask ? $"perTask applies only to custom metrics; {name} is built in" : "";
        }
        else if (Metric.TryParse(name, out var stored, out _) && stored.Kind != MetricKind.Custom)
        {
            error = $"'{name}' is a metric of the store, not a scaling metric; {valid}";
        }
        else if (Metric.CustomNameError(name) is { } customError)
        {
            error = $"unknown metric: {customError}; {valid}";
        }

        return error.Length == 0;
    }

    /// <summary>A figure for people: whole numbers from 100, one decimal from 1, three below.</summary>
    public static string Number(double value) =>
        double.IsPositiveInfinity(value) ? "∞"
        : value.ToString(Math.Abs(value) >= 100 ? "0" : Math.Abs(value) >= 1 ? "0.#" : "0.###", CultureInfo.InvariantCulture);
}
