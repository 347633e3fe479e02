using System.Collections.Immutable;
using System.Globalization;
using YamlDotNet.RepresentationModel;

namespace Flotilla.Core.Spec;

public static partial class SpecLoader
{
    private static DeploymentSpec ReadDeployment(YamlFields fields, YamlNode? node, string path)
    {
        var deployment = new DeploymentSpec();
        var map = fields.Map(node, path, "strategy", "minHealthyPercent", "maxPercent", "circuitBreaker", "rollback", "steps", "stepDuration", "analysis", "bakeTime");
        if (map is null)
        {
            return deployment;
        }

        return deployment with
        {
            Strategy = ReadEnum(fields, map, "strategy", deployment.Strategy),
            MinHealthyPercent = map.Int("minHealthyPercent") ?? deployment.MinHealthyPercent,
            MaxPercent = map.Int("maxPercent") ?? deployment.MaxPercent,
            CircuitBreaker = map.Bool("circuitBreaker") ?? deployment.CircuitBreaker,
            Rollback = map.Bool("rollback") ?? deployment.Rollback,
            Steps = map.Has("steps")
                ? fields.Items(map["steps"], map.PathOf("steps")).Select(x => (int)Math.Round(Percent(fields, x.Item, x.Path) ?? 0)).ToImmutableArray()
                : deployment.Steps,
            StepDuration = map.Duration("stepDuration") ?? deployment.StepDuration,
            Analysis = ReadAnalysis(fields, map["analysis"], map.PathOf("analysis")),
            BakeTime = map.Duration("bakeTime") ?? deployment.BakeTime,
        };
    }

    private static CanaryAnalysisSpec ReadAnalysis(YamlFields fields, YamlNode? node, string path)
    {
        var analysis = new CanaryAnalysisSpec();
        var map = fields.Map(node, path, "maxErrorRate", "maxP99Ratio", "minRequests");
        return map is null ? analysis : analysis with
        {
            MaxErrorRate = Percent(fields, map["maxErrorRate"], map.PathOf("maxErrorRate")) / 100 ?? analysis.MaxErrorRate,
            MaxP99Ratio = map.Double("maxP99Ratio") ?? analysis.MaxP99Ratio,
            MinRequests = map.Int("minRequests") ?? analysis.MinRequests,
        };
    }

    /// <summary>A percentage written <c>5%</c>, <c>0.5%</c> or <c>5</c>; the number, not the fraction.</summary>
    private static double? Percent(YamlFields fields, YamlNode? node, string path)
    {
        var text = fields.String(node, path);
        if (text is null)
        {
            return null;
        }

        if (double.TryParse(text.Trim().TrimEnd('%'), NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var value))
        {
            return value;
        }

        fields.Error(path, node, $"must be a percentage such as 5% or 0.5%, got '{text}'");
        return null;
    }
}
