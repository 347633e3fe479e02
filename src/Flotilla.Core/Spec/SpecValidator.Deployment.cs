namespace Flotilla.Core.Spec;

internal static partial class SpecValidator
{
    private static void ValidateDeployment(DeploymentSpec deployment, string path, List<(string, string)> errors)
    {
        CheckRange($"{path}.minHealthyPercent", deployment.MinHealthyPercent, 0, 100, errors);
        CheckRange($"{path}.maxPercent", deployment.MaxPercent, 100, 400, errors);
        CheckRange($"{path}.stepDuration", deployment.StepDuration, TimeSpan.FromSeconds(5), TimeSpan.FromHours(1), errors);
        CheckRange($"{path}.bakeTime", deployment.BakeTime, TimeSpan.Zero, TimeSpan.FromHours(24), errors);
        if (deployment.Steps.IsEmpty || deployment.Steps[^1] != 100)
        {
            errors.Add(($"{path}.steps", $"must end at 100%, got [{string.Join(", ", deployment.Steps.Select(s => $"{s}%"))}]"));
        }
        else if (deployment.Steps.Any(s => s is < 1 or > 100) || deployment.Steps.Zip(deployment.Steps.Skip(1)).Any(p => p.Second <= p.First))
        {
            errors.Add(($"{path}.steps", $"must rise strictly from 1% to 100%, got [{string.Join(", ", deployment.Steps.Select(s => $"{s}%"))}]"));
        }

        var analysis = deployment.Analysis;
        if (analysis.MaxErrorRate is < 0 or > 1)
        {
            errors.Add(($"{path}.analysis.maxErrorRate", $"must be between 0% and 100%, got {analysis.MaxErrorRate * 100}%"));
        }

        if (analysis.MaxP99Ratio is < 1 or > 100)
        {
            errors.Add(($"{path}.analysis.maxP99Ratio", $"must be between 1 and 100, got {analysis.MaxP99Ratio}"));
        }

        CheckRange($"{path}.analysis.minRequests", analysis.MinRequests, 1, 1_000_000, errors);
    }
}
