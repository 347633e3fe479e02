using Flotilla.Core.Autoscaling;

namespace Flotilla.Core.Spec;

/// <summary>The rules of <c>services.NAME.resources</c> and <c>services.NAME.autoscaling</c>, and the warnings a spec may deserve.</summary>
internal static partial class SpecValidator
{
    private static readonly TimeSpan MaxCooldown = TimeSpan.FromHours(1);

    /// <summary>
    /// What is legal but probably unwise, each with its path: the spec still runs. Kept apart from errors so that
    /// <c>flotilla up</c> and <c>validate</c> print them without refusing the spec.
    /// </summary>
    public static List<(string Path, string Message)> Warnings(FlotillaSpec spec)
    {
        var warnings = new List<(string Path, string Message)>();
        var routed = spec.Listeners
            .SelectMany(l => l.Rules.Select(r => r.Action).Append(l.Default))
            .OfType<ForwardAction>()
            .SelectMany(a => a.Services.Select(s => s.Service))
            .ToHashSet(StringComparer.Ordinal);
        foreach (var service in spec.Services)
        {
            // One task behind a load balancer means every crash, deploy or scale-in of it is an outage (AWS and the
            // Kubernetes docs both recommend two or more). A worker that no listener routes to may well run alone.
            if (service.Autoscaling is { Min: < 2 and var min } && routed.Contains(service.Name))
            {
                warnings.Add(($"services.{service.Name}.autoscaling.min", $"min {min} leaves a service behind a listener with {(min == 0 ? "no task" : "a single task")} at times, so any restart is an outage; 2 or more is recommended"));
            }
        }

        return warnings;
    }

    private static void ValidateScaling(ServiceSpec service, string servicePath, List<(string, string)> errors)
    {
        var path = servicePath;
        if (service.Resources.Cpu is { } cpu && cpu is < 0.01 or > 256)
        {
            errors.Add(($"{path}.resources.cpu", $"must be between 0.01 and 256 cores, got {cpu}"));
        }

        if (service.Resources.MemoryMb is { } memory)
        {
            CheckRange($"{path}.resources.memoryMb", memory, 1, 1_048_576, errors);
        }

        if (service.Autoscaling is not { } scaling)
        {
            return;
        }

        path += ".autoscaling";
        if (scaling.Max == AutoscalingSpec.MissingMax)
        {
            errors.Add(($"{path}.max", $"is required: the most tasks the policies may ask for, 1 to {ServiceSpec.MaxDesired}"));
        }
        else
        {
            CheckRange($"{path}.max", scaling.Max, 1, ServiceSpec.MaxDesired, errors);
        }

        CheckRange($"{path}.min", scaling.Min, 0, ServiceSpec.MaxDesired, errors);
        if (scaling.Max != AutoscalingSpec.MissingMax && scaling.Min > scaling.Max)
        {
            errors.Add(($"{path}.min", $"must not be above max ({scaling.Max}), got {scaling.Min}"));
        }
        else if (scaling.Max != AutoscalingSpec.MissingMax && (service.Desired < scaling.Min || service.Desired > scaling.Max))
        {
            errors.Add(($"{servicePath}.desired", $"is the starting count and must lie between autoscaling.min ({scaling.Min}) and max ({scaling.Max}), got {service.Desired}"));
        }

        CheckRange($"{path}.scaleOutCooldown", scaling.ScaleOutCooldown, TimeSpan.Zero, MaxCooldown, errors);
        CheckRange($"{path}.scaleInCooldown", scaling.ScaleInCooldown, TimeSpan.Zero, MaxCooldown, errors);
        CheckRange($"{path}.maxScaleInStep", scaling.MaxScaleInStep, 1, ServiceSpec.MaxDesired, errors);
        CheckRange($"{path}.warmup", scaling.Warmup, TimeSpan.Zero, TimeSpan.FromHours(1), errors);
        CheckRange($"{path}.evaluationInterval", scaling.EvaluationInterval, TimeSpan.FromSeconds(1), TimeSpan.FromMinutes(5), errors);
        if (scaling.EvaluationInterval.Ticks % TimeSpan.TicksPerSecond != 0)
        {
            errors.Add(($"{path}.evaluationInterval", $"must be whole seconds (the metric store keeps one point per second), got {Durations.Format(scaling.EvaluationInterval)}"));
        }

        if (scaling.Policies.IsEmpty)
        {
            errors.Add(($"{path}.policies", "at least one policy is required, e.g. { name: load, targetTracking: { metric: active_requests, target: 5 } }"));
        }

        var names = new HashSet<string>(StringComparer.Ordinal);
        var metrics = new List<(ScalingMetric Metric, string Kind)>();
        for (var i = 0; i < scaling.Policies.Length; i++)
        {
            var policy = scaling.Policies[i];
            var policyPath = $"{path}.policies[{i}]";
            if (policy.Name.Length == 0)
            {
                errors.Add(($"{policyPath}.name", "is required: it names the policy in events"));
            }
            else if (!NamePattern().IsMatch(policy.Name))
            {
                errors.Add(($"{policyPath}.name", $"must be lower-case letters, digits and '-', starting with a letter, got '{policy.Name}'"));
            }
            else if (!names.Add(policy.Name))
            {
                errors.Add(($"{policyPath}.name", $"policy '{policy.Name}' is defined twice"));
            }

            if (policy.TargetTracking is { } tracking)
            {
                ValidateTargetTracking(tracking, service, $"{policyPath}.targetTracking", metrics, errors);
            }
            else if (policy.Step is { } step)
            {
                ValidateStep(step, service, $"{policyPath}.step", metrics, errors);
            }
            else if (policy.Scheduled is { } scheduled)
            {
                ValidateScheduled(scheduled, scaling, $"{policyPath}.scheduled", errors);
            }
        }

        // Checks of the policies together would only guess at a policy whose metric is already reported as unknown.
        var dynamicPolicies = scaling.Policies.Count(p => p.TargetTracking is not null || p.Step is not null);
        if (metrics.Count > 0 && metrics.Count == dynamicPolicies && metrics.All(m => m.Metric.Kind == ScalingMetricKind.Latency))
        {
            errors.Add(($"{path}.policies", "latency is a secondary signal: it adds tasks and holds off scale-in but never removes tasks, and it rises for reasons more tasks do not fix; add a policy on a load metric (cpu, requests_per_target, active_requests…)"));
        }

        var scalesToZero = scaling.Min == 0 || scaling.Policies.Any(p => p.Scheduled?.Min == 0);
        if (scalesToZero && !metrics.Any(m => m.Kind == ScalingPolicies.TargetTracking && m.Metric.Kind == ScalingMetricKind.ServiceTotal && m.Metric.Custom))
        {
            errors.Add(($"{path}.min", "scaling to zero needs a targetTracking policy on a custom metric with perTask: true (a queue's backlog): with no task running, nothing else measures the demand that would start one"));
        }
    }

    private static void ValidateTargetTracking(TargetTrackingSpec tracking, ServiceSpec service, string path, List<(ScalingMetric, string)> metrics, List<(string, string)> errors)
    {
        if (ValidateMetric(tracking.Metric, tracking.PerTask, service, path, errors) is { } metric)
        {
            metrics.Add((metric, ScalingPolicies.TargetTracking));
        }

        if (!(tracking.Target > 0) || double.IsInfinity(tracking.Target))
        {
            errors.Add(($"{path}.target", $"is required and must be above 0, in the metric's unit (%, requests/s, requests, ms or the custom metric's), got {tracking.Target}"));
        }
    }

    private static void ValidateStep(StepScalingSpec step, ServiceSpec service, string path, List<(ScalingMetric, string)> metrics, List<(string, string)> errors)
    {
        var metric = ValidateMetric(step.Metric, perTask: false, service, path, errors);
        if (metric is not null)
        {
            metrics.Add((metric, ScalingPolicies.Step));
        }

        if (step.Upper is null && step.Lower is null)
        {
            errors.Add((path, "needs upper (scale out above it), lower (scale in below it), or both"));
        }

        if (step.Upper is { } upper && step.Lower is { } lower && lower >= upper)
        {
            errors.Add(($"{path}.lower", $"must be below upper ({upper}), got {lower}"));
        }

        if (step.Lower is not null && metric?.Kind == ScalingMetricKind.Latency)
        {
            errors.Add(($"{path}.lower", "latency never removes tasks (low latency says nothing about spare capacity); scale in on a load metric"));
        }

        if (step.Adjustments.IsEmpty)
        {
            errors.Add(($"{path}.adjustments", "needs at least one step, e.g. [{ overPercent: 0, change: 1 }, { overPercent: 25, change: 3 }]"));
        }

        for (var i = 0; i < step.Adjustments.Length; i++)
        {
            var adjustment = step.Adjustments[i];
            if (!(adjustment.OverPercent >= 0) || double.IsInfinity(adjustment.OverPercent))
            {
                errors.Add(($"{path}.adjustments[{i}].overPercent", $"must be 0 or more, got {adjustment.OverPercent}"));
            }
            else if (i > 0 && adjustment.OverPercent <= step.Adjustments[i - 1].OverPercent)
            {
                errors.Add(($"{path}.adjustments[{i}].overPercent", $"must be above the step before ({step.Adjustments[i - 1].OverPercent}), got {adjustment.OverPercent}"));
            }

            CheckRange($"{path}.adjustments[{i}].change", adjustment.Change, 1, ServiceSpec.MaxDesired, errors);
        }

        CheckRange($"{path}.periods", step.Periods, 1, AutoscalerState.DatapointsKept, errors);
        CheckRange($"{path}.datapoints", step.Datapoints, 1, Math.Max(1, step.Periods), errors);
    }

    private static void ValidateScheduled(ScheduledScalingSpec scheduled, AutoscalingSpec scaling, string path, List<(string, string)> errors)
    {
        if (scheduled.Cron.Length == 0)
        {
            errors.Add(($"{path}.cron", "is required, e.g. \"45 7 * * 1-5\" (minute hour day-of-month month day-of-week)"));
        }
        else if (!CronSchedule.TryParse(scheduled.Cron, scheduled.TimeZone, out _, out var cronError, out var zoneError))
        {
            if (cronError.Length > 0)
            {
                errors.Add(($"{path}.cron", cronError));
            }

            if (zoneError.Length > 0)
            {
                errors.Add(($"{path}.timeZone", zoneError));
            }
        }

        if (scheduled.Min is null && scheduled.Max is null && scheduled.Desired is null)
        {
            errors.Add((path, "sets nothing: give min, max, desired or several"));
        }

        foreach (var (field, value) in new[] { ("min", scheduled.Min), ("max", scheduled.Max), ("desired", scheduled.Desired) })
        {
            if (value is { } count)
            {
                CheckRange($"{path}.{field}", count, field == "max" ? 1 : 0, ServiceSpec.MaxDesired, errors);
            }
        }

        var min = scheduled.Min ?? scaling.Min;
        var max = scheduled.Max ?? scaling.Max;
        if (scaling.Max != AutoscalingSpec.MissingMax && min > max)
        {
            errors.Add(($"{path}.{(scheduled.Min is null ? "max" : "min")}", $"would leave min {min} above max {max}"));
        }
    }

    private static ScalingMetric? ValidateMetric(string name, bool perTask, ServiceSpec service, string path, List<(string, string)> errors)
    {
        if (!ScalingMetrics.TryResolve(name, perTask, out var metric, out var error))
        {
            errors.Add(($"{path}.{(error.StartsWith("perTask", StringComparison.Ordinal) ? "perTask" : "metric")}", error));
            return null;
        }

        if (metric.Name == ScalingMetrics.Memory && service.Resources.MemoryMb is null)
        {
            errors.Add(($"{path}.metric", "memory is a percentage of resources.memoryMb, which this service does not set"));
        }

        return metric;
    }
}
