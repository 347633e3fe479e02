using System.CommandLine;
using Flotilla.Api;
using Flotilla.Core.Autoscaling;

namespace Flotilla.Cli;

/// <summary><c>flotilla autoscaling SERVICE</c>.</summary>
internal static partial class CliCommands
{
    private static Command Autoscaling()
    {
        var service = new Argument<string>("service") { Description = "The autoscaled service." };
        var command = new Command("autoscaling", "Show why an autoscaled service has the count it has: each policy's figure and wish, bounds, cooldowns, the next scheduled action, the last change.")
        {
            service,
            JsonOption,
        };
        command.SetAction((parse, _) => WithClient(parse, async client =>
        {
            var path = $"api/v1/services/{Uri.EscapeDataString(parse.GetRequiredValue(service))}/autoscaling";
            if (parse.GetValue(JsonOption))
            {
                Output.Line(await client.GetRawAsync(path));
                return;
            }

            var a = await client.GetAsync(path, AutoscalingJson.Default.AutoscalingDto);
            var now = DateTimeOffset.UtcNow;
            var evaluated = a.EvaluatedAt is { } at ? $"evaluated {Output.Age(at, now)} ago, every {a.EvaluationInterval}" : $"not evaluated yet (every {a.EvaluationInterval})";
            Output.Line($"service {a.Service}: desired {a.Desired} ({a.Running} running, {a.Healthy} healthy), min {a.Min}, max {a.Max}; {evaluated}");
            if (a.Decision is { } decision)
            {
                Output.Line(decision);
            }

            Output.Line("");
            Output.Table(
                ["POLICY", "KIND", "METRIC", "VALUE", "TARGET", "WISH", "WHY"],
                a.Policies.Select(p => (IReadOnlyList<string>)
                [
                    p.Name, p.Kind, p.Metric ?? "-", Figure(p.Value), Figure(p.Target), p.Desired is { } n ? Output.Number(n) : p.Wish, p.Explanation,
                ]));
            Output.Line("");
            Output.Line($"scale-out cooldown  {Left(a.ScaleOutCooldownLeft)} (of {a.ScaleOutCooldown}; step adjustments count from the count before the last scale-out meanwhile)");
            Output.Line($"scale-in cooldown   {Left(a.ScaleInCooldownLeft)} (of {a.ScaleInCooldown} after any change; at most {a.MaxScaleInStep} per scale-in)");
            Output.Line($"warm-up             {a.Warmup} (a new task's own cpu and memory count at the target until then)");
            Output.Line(a.NextScheduledAction is { } next
                ? $"next scheduled      {next.Policy} at {next.Local}: {next.Sets}"
                : "next scheduled      none");
            Output.Line(a.LastChange is { } change
                ? $"last change         {Output.Age(change.At, now)} ago, {change.From} → {change.To}: {change.Reason}"
                : "last change         none since Flotilla started");
        }));
        return command;
    }

    private static string Figure(double? value) => value is { } v ? ScalingMetrics.Number(v) : "-";

    private static string Left(string left) => left == "0s" ? "none" : $"{left} left";
}
