using Flotilla.Core.Spec;

namespace Flotilla.Core.Autoscaling;

/// <summary>
/// AWS's step scaling: when the metric per task is past a threshold in <c>datapoints</c> of the last <c>periods</c>
/// evaluations (CloudWatch's "M out of N"), add — or remove — the tasks of the step that matches how far past it is.
/// Steps are relative, so while a scale-out's cooldown lasts they add to the count from before it: a breach that grows
/// from the +1 step to the +3 step adds 2 more, not 3 (AWS's rule).
/// </summary>
internal sealed class StepScalingPolicy(string name, ScalingMetric metric, StepScalingSpec spec) : IScalingPolicy
{
    public string Name => name;

    public string Kind => ScalingPolicies.Step;

    public ScalingMetric? Metric => metric;

    public PolicyWish Evaluate(ScalingContext context)
    {
        // Tasks still warming up are left out rather than counted at a threshold: a threshold is an alarm, not a value to hold.
        var measured = Measurement.Of(metric, context.Inputs, warmingValue: null);
        var value = measured.Value;
        var window = context.Datapoints.TakeLast(spec.Periods - 1).Append(value).ToList();
        var above = spec.Upper is { } upper ? window.Count(v => v > upper) : 0;
        var below = spec.Lower is { } lower ? window.Count(v => v < lower) : 0;
        var missing = value is null || measured.Unmeasured.Count > 0;
        var of = $"of the last {window.Count} evaluation{(window.Count == 1 ? "" : "s")}";

        if (above >= spec.Datapoints)
        {
            var breach = window.Last(v => v > spec.Upper)!.Value;
            var over = Distance(breach, spec.Upper!.Value, spec.Upper.Value);
            var seen = $"{metric.Describe(breach)}{measured.Basis} > upper {metric.Format(spec.Upper.Value)} in {above} {of}";
            if (Step(over) is not { } step)
            {
                return Wish(missing ? WishKind.MetricMissing : WishKind.NoOpinion, null, $"{seen}, {Percent(over)} over: below the first step", value);
            }

            var wanted = context.StepBase + step.Change;
            var basis = context.StepBase == context.Desired ? "" : $" to {context.StepBase}, the count before the last scale-out (cooldown)";
            return Wish(missing ? WishKind.MetricMissing : WishKind.Count, Math.Max(wanted, context.Desired), $"{seen}: +{step.Change}{basis} ({Percent(over)} over)", value);
        }

        if (below >= spec.Datapoints && !missing)
        {
            var breach = window.Last(v => v < spec.Lower)!.Value;
            var under = Distance(spec.Lower!.Value, breach, spec.Lower.Value);
            var seen = $"{metric.Describe(breach)} < lower {metric.Format(spec.Lower.Value)} in {below} {of}";
            return Step(under) is { } step
                ? Wish(WishKind.Count, Math.Max(0, context.Desired - step.Change), $"{seen}: -{step.Change} ({Percent(under)} under)", value)
                : Wish(WishKind.NoOpinion, null, $"{seen}, {Percent(under)} under: below the first step", value);
        }

        if (missing)
        {
            return Wish(WishKind.MetricMissing, null, value is null ? $"no {metric.Name} data in the window" : $"{metric.Describe(value.Value)}{measured.Basis}", value);
        }

        var bounds = (spec.Upper, spec.Lower) switch
        {
            ({ } u, { } l) => $"between lower {metric.Format(l)} and upper {metric.Format(u)}",
            ({ } u, null) => $"not above upper {metric.Format(u)}",
            (null, { } l) => $"not below lower {metric.Format(l)}",
            _ => "",
        };
        return Wish(WishKind.NoOpinion, null, $"{metric.Describe(value!.Value)}, {bounds} ({Math.Max(above, below)} {of} past a threshold, {spec.Datapoints} needed)", value);
    }

    /// <summary>How far <paramref name="high"/> is above <paramref name="low"/>, in percent of <paramref name="threshold"/>; past a zero threshold is infinitely far.</summary>
    private static double Distance(double high, double low, double threshold) =>
        threshold == 0 ? double.PositiveInfinity : (high - low) / Math.Abs(threshold) * 100;

    private StepAdjustmentSpec? Step(double percentPast) => spec.Adjustments.LastOrDefault(a => percentPast >= a.OverPercent);

    private static string Percent(double percent) => ScalingMetrics.Number(percent) + "%";

    private PolicyWish Wish(WishKind kind, int? desired, string explanation, double? value) =>
        new(name, Kind, kind, desired, explanation) { Metric = metric.Name, Value = value, Target = spec.Upper };
}
