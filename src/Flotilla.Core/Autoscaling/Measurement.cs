namespace Flotilla.Core.Autoscaling;

/// <summary>A metric per task in service at one evaluation, as target tracking and step policies both read it.</summary>
/// <param name="Value">Per target (or the service's value, for latency and per-task custom values); null when unknown.</param>
/// <param name="Total">For totals and per-task gauges, the sum the value was made from; null when unknown.</param>
/// <param name="Tasks">How many tasks the value is per.</param>
/// <param name="Unmeasured">Tasks in service, past their warm-up, with no figure: the value leaves them out.</param>
/// <param name="Warming">Tasks warming up, counted at the target instead of their own figure.</param>
internal readonly record struct Measurement(double? Value, double? Total, int Tasks, IReadOnlyList<string> Unmeasured, int Warming = 0)
{
    /// <summary>
    /// Reads <paramref name="metric"/> from the inputs. A per-task gauge is averaged over the tasks in service, with the
    /// tasks still warming up counted at <paramref name="warmingValue"/> (the policy's target: they have no meaningful
    /// figure of their own yet, and must count as the capacity they are about to be) or left out when it is null.
    /// Totals are divided among the tasks in service; warm-up does not touch them, since they are measured at the load
    /// balancer or the queue, not by the tasks.
    /// </summary>
    public static Measurement Of(ScalingMetric metric, ScalingInputs inputs, double? warmingValue)
    {
        var reading = inputs.Reading(metric.Name);
        switch (metric.Kind)
        {
            case ScalingMetricKind.TaskGauge:
                var measured = reading.Tasks.Where(t => !t.WarmingUp && t.Value is not null).ToList();
                var warming = warmingValue is null ? 0 : reading.Tasks.Count(t => t.WarmingUp);
                var unmeasured = reading.Tasks.Where(t => !t.WarmingUp && t.Value is null).Select(t => t.TaskId).ToList();
                var count = measured.Count + warming;
                var total = measured.Sum(t => t.Value!.Value) + (warming * (warmingValue ?? 0));
                return count == 0 ? new Measurement(null, null, 0, unmeasured) : new Measurement(total / count, total, count, unmeasured, warming);
            case ScalingMetricKind.ServiceTotal:
                return reading.Service is { } sum
                    ? new Measurement(inputs.InService > 0 ? sum / inputs.InService : null, sum, inputs.InService, [])
                    : new Measurement(null, null, inputs.InService, []);
            default:
                return new Measurement(reading.Service, null, inputs.InService, []);
        }
    }

    /// <summary>
    /// What the value stands on, for explanations: <c>, 2 warming up at the target</c>, <c>, without shop-3 (no data)</c>.
    /// </summary>
    public string Basis =>
        (Warming == 0 ? "" : $", {Warming} warming up at the target")
        + (Unmeasured.Count == 0 ? "" : $", without {string.Join(", ", Unmeasured)} (no data)");

    /// <summary>
    /// A count for a ratio, rounded up as HPA does; a hair of floating-point error must not add a task
    /// (4 × 5 / 5 can come out as 4.0000000001).
    /// </summary>
    public static int Ceiling(double tasks) =>
        double.IsNaN(tasks) ? 0 : (int)Math.Clamp(Math.Ceiling(tasks - 1e-9), 0, 1_000_000);
}
