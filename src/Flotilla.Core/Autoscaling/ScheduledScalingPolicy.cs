using Flotilla.Core.Spec;

namespace Flotilla.Core.Autoscaling;

/// <summary>
/// AWS's scheduled action: at each time the cron names, local to its time zone, the service's min and max become the
/// action's (they hold until another action sets them), and its desired count, if given, is set once — an instruction
/// that ignores the other policies and the cooldowns; they take over from there, within the new bounds. Flotilla keeps no
/// autoscaler state across restarts, so the bounds are those of the latest firing, found again from the cron; a desired
/// count is set only by a firing the autoscaler sees happen.
/// </summary>
internal sealed class ScheduledScalingPolicy(string name, CronSchedule schedule, ScheduledScalingSpec spec) : IScalingPolicy
{
    public string Name => name;

    public string Kind => ScalingPolicies.Scheduled;

    public ScalingMetric? Metric => null;

    /// <summary>What the action sets: <c>min 4, max 20, desired 6</c>.</summary>
    public string Sets => string.Join(", ", new[] { ("min", spec.Min), ("max", spec.Max), ("desired", spec.Desired) }
        .Where(x => x.Item2 is not null)
        .Select(x => $"{x.Item1} {x.Item2}"));

    public PolicyWish Evaluate(ScalingContext context)
    {
        var now = context.Inputs.Now;
        var last = schedule.Previous(now);
        var next = schedule.Next(now) is { } at ? new ScheduledAction(name, at, schedule.Local(at), Sets) : null;
        var bounds = last is { } since && (spec.Min is not null || spec.Max is not null) ? new ScheduledBounds(spec.Min, spec.Max, since) : null;
        var firedNow = last is { } fired && context.PreviousEvaluation is { } previous && fired > previous;
        if (firedNow && spec.Desired is { } desired)
        {
            return new PolicyWish(name, Kind, WishKind.Count, desired, $"scheduled action at {schedule.Local(last!.Value)} sets {Sets}")
            {
                Instruction = true,
                Bounds = bounds,
                Next = next,
            };
        }

        var explanation = last is { } when
            ? $"last fired {schedule.Local(when)} ({Sets})"
            : "has not fired within the last year";
        return new PolicyWish(name, Kind, WishKind.NoOpinion, null, explanation) { Bounds = bounds, Next = next };
    }
}
