using Flotilla.Core.Spec;

namespace Flotilla.Core.Autoscaling;

/// <summary>
/// Keeps a metric per task at a target, as AWS target tracking and Kubernetes' HPA do: desired = ceil(tasks × value /
/// target) — for a total such as a backlog, ceil(total / target), which also works from zero tasks — and no change
/// while the value is within <see cref="Tolerance"/> of the target, so that noise does not move the count.
/// </summary>
internal sealed class TargetTrackingPolicy(string name, ScalingMetric metric, TargetTrackingSpec spec) : IScalingPolicy
{
    /// <summary>HPA's default tolerance, and AWS's band: within 10% of the target, a policy is content (the explanations say "10%").</summary>
    public const double Tolerance = 0.10;

    public string Name => name;

    public string Kind => ScalingPolicies.TargetTracking;

    public ScalingMetric? Metric => metric;

    public PolicyWish Evaluate(ScalingContext context)
    {
        var target = spec.Target;
        var desired = context.Desired;
        var measured = Measurement.Of(metric, context.Inputs, warmingValue: target);
        var targetText = $"target {metric.Format(target)}";

        if (metric.Kind == ScalingMetricKind.ServiceTotal && measured.Total is { } total && measured.Tasks == 0)
        {
            // No task to divide by: the total alone says how many are needed. This is how a queue worker leaves zero.
            // The load balancer's own totals, though, read 0 when no task can serve (nothing is in flight to a task that
            // is still starting): they may ask for more, never for fewer.
            var needed = Measurement.Ceiling(total / target);
            var measuredOutside = metric.Custom;
            return Wish(
                measuredOutside ? WishKind.Count : WishKind.MetricMissing,
                measuredOutside || needed > desired ? needed : null,
                $"{metric.Name} {metric.Format(total)} with no task in service, {targetText} per task",
                total);
        }

        if (measured.Value is not { } value)
        {
            return metric.Kind == ScalingMetricKind.Latency
                ? Wish(WishKind.NoOpinion, null, $"no {metric.Name}: no request answered in the window", null)
                : Wish(WishKind.MetricMissing, null, $"no {metric.Name} data in the window{(measured.Tasks == 0 ? " (no task in service)" : "")}", null);
        }

        var ratio = value / target;
        var described = metric.Describe(value) + measured.Basis;
        var missing = measured.Unmeasured.Count > 0 ? WishKind.MetricMissing : WishKind.Count;
        if (Math.Abs(ratio - 1) <= Tolerance)
        {
            return Wish(missing, desired, $"{described}, within 10% of {targetText}", value);
        }

        if (metric.Kind == ScalingMetricKind.Latency && ratio < 1)
        {
            return Wish(WishKind.NoOpinion, null, $"{described} < {targetText}; latency never removes tasks", value);
        }

        // A policy over its target never votes for fewer tasks, nor one under it for more, whatever the tasks still
        // starting do to the arithmetic (they are in the desired count but not yet in service).
        var wanted = Measurement.Ceiling(measured.Tasks * ratio);
        wanted = ratio > 1 ? Math.Max(wanted, desired) : Math.Min(wanted, desired);
        return Wish(missing, wanted, $"{described} {(ratio > 1 ? ">" : "<")} {targetText}", value);
    }

    private PolicyWish Wish(WishKind kind, int? desired, string explanation, double? value) =>
        new(name, Kind, kind, desired, explanation) { Metric = metric.Name, Value = value, Target = spec.Target };
}
