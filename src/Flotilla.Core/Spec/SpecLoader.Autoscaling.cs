using System.Collections.Immutable;
using Flotilla.Core.Autoscaling;
using YamlDotNet.RepresentationModel;

namespace Flotilla.Core.Spec;

/// <summary>Reads <c>services.NAME.resources</c> and <c>services.NAME.autoscaling</c>.</summary>
public static partial class SpecLoader
{
    private static ResourcesSpec ReadResources(YamlFields fields, YamlNode? node, string path)
    {
        var map = fields.Map(node, path, "cpu", "memoryMb");
        return map is null ? new ResourcesSpec() : new ResourcesSpec { Cpu = map.Double("cpu"), MemoryMb = map.Int("memoryMb") };
    }

    /// <summary>The autoscaling block; null when absent, so that a service without one keeps its fixed count.</summary>
    private static AutoscalingSpec? ReadAutoscaling(YamlFields fields, YamlNode? node, string path)
    {
        var map = fields.Map(node, path, "min", "max", "scaleOutCooldown", "scaleInCooldown", "maxScaleInStep", "warmup", "evaluationInterval", "policies");
        if (map is null)
        {
            return null;
        }

        var spec = new AutoscalingSpec();
        return spec with
        {
            Min = map.Int("min") ?? spec.Min,
            Max = map.Int("max") ?? spec.Max,
            ScaleOutCooldown = map.Duration("scaleOutCooldown") ?? spec.ScaleOutCooldown,
            ScaleInCooldown = map.Duration("scaleInCooldown") ?? spec.ScaleInCooldown,
            MaxScaleInStep = map.Int("maxScaleInStep") ?? spec.MaxScaleInStep,
            Warmup = map.Duration("warmup") ?? spec.Warmup,
            EvaluationInterval = map.Duration("evaluationInterval") ?? spec.EvaluationInterval,
            Policies = fields.Items(map["policies"], map.PathOf("policies")).Select(x => ReadPolicy(fields, x.Item, x.Path)).ToImmutableArray(),
        };
    }

    private static ScalingPolicySpec ReadPolicy(YamlFields fields, YamlNode node, string path)
    {
        var map = fields.Map(node, path, ["name", .. ScalingPolicies.All]);
        if (map is null)
        {
            return new ScalingPolicySpec();
        }

        var policy = new ScalingPolicySpec { Name = map.String("name") ?? "" };
        var given = ScalingPolicies.All.Where(map.Has).ToList();
        if (given.Count != 1)
        {
            fields.Error(path, map.Line, given.Count == 0
                ? $"needs a kind: one of {string.Join(", ", ScalingPolicies.All)}"
                : $"has {string.Join(" and ", given)}; a policy is exactly one kind (write two policies to combine them)");
            return policy;
        }

        var kind = given[0];
        var kindPath = map.PathOf(kind);
        return kind switch
        {
            ScalingPolicies.TargetTracking => policy with { TargetTracking = ReadTargetTracking(fields, map[kind], kindPath) },
            ScalingPolicies.Step => policy with { Step = ReadStep(fields, map[kind], kindPath) },
            _ => policy with { Scheduled = ReadScheduled(fields, map[kind], kindPath) },
        };
    }

    private static TargetTrackingSpec ReadTargetTracking(YamlFields fields, YamlNode? node, string path)
    {
        var spec = new TargetTrackingSpec();
        var map = fields.Map(node, path, "metric", "target", "perTask");
        return map is null ? spec : spec with
        {
            Metric = map.String("metric") ?? spec.Metric,
            Target = map.Double("target") ?? spec.Target,
            PerTask = map.Bool("perTask") ?? spec.PerTask,
        };
    }

    private static StepScalingSpec ReadStep(YamlFields fields, YamlNode? node, string path)
    {
        var spec = new StepScalingSpec();
        var map = fields.Map(node, path, "metric", "upper", "lower", "adjustments", "datapoints", "periods");
        if (map is null)
        {
            return spec;
        }

        var adjustments = map.Has("adjustments")
            ? fields.Items(map["adjustments"], map.PathOf("adjustments"))
                .Select(x => fields.Map(x.Item, x.Path, "overPercent", "change") is { } step
                    ? new StepAdjustmentSpec(step.Double("overPercent") ?? 0, step.Int("change") ?? 0)
                    : new StepAdjustmentSpec(0, 0))
                .ToImmutableArray()
            : spec.Adjustments;
        return spec with
        {
            Metric = map.String("metric") ?? spec.Metric,
            Upper = map.Double("upper"),
            Lower = map.Double("lower"),
            Adjustments = adjustments,
            Datapoints = map.Int("datapoints") ?? spec.Datapoints,
            Periods = map.Int("periods") ?? spec.Periods,
        };
    }

    private static ScheduledScalingSpec ReadScheduled(YamlFields fields, YamlNode? node, string path)
    {
        var spec = new ScheduledScalingSpec();
        var map = fields.Map(node, path, "cron", "timeZone", "min", "max", "desired");
        return map is null ? spec : spec with
        {
            Cron = map.String("cron") ?? spec.Cron,
            TimeZone = map.String("timeZone") ?? spec.TimeZone,
            Min = map.Int("min"),
            Max = map.Int("max"),
            Desired = map.Int("desired"),
        };
    }
}
