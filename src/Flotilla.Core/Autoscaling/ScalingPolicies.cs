using System.Collections.Immutable;
using Flotilla.Core.Spec;

namespace Flotilla.Core.Autoscaling;

/// <summary>The kinds of scaling policy, by the keys the spec writes them with, and their construction from the spec.</summary>
public static class ScalingPolicies
{
    /// <summary>Keep a metric per task at a target.</summary>
    public const string TargetTracking = "targetTracking";

    /// <summary>Add or remove tasks in steps past thresholds.</summary>
    public const string Step = "step";

    /// <summary>Set min, max and desired on a schedule.</summary>
    public const string Scheduled = "scheduled";

    /// <summary>Every kind, in the order the docs list them.</summary>
    public static IReadOnlyList<string> All { get; } = [TargetTracking, Step, Scheduled];

    /// <summary>
    /// The policies of a validated spec. Throws on a policy validation would have refused: reaching it means a bug,
    /// not a bad spec.
    /// </summary>
    public static ImmutableArray<IScalingPolicy> Create(AutoscalingSpec spec) => spec.Policies.Select(Create).ToImmutableArray();

    /// <summary>One policy of a validated spec; see <see cref="Create(AutoscalingSpec)"/>.</summary>
    public static IScalingPolicy Create(ScalingPolicySpec policy)
    {
        if (policy.TargetTracking is { } tracking)
        {
            return new TargetTrackingPolicy(policy.Name, Resolve(tracking.Metric, tracking.PerTask), tracking);
        }

        if (policy.Step is { } step)
        {
            // A threshold on a custom metric reads the value as pushed (a backlog above 1000), not shared among tasks.
            return new StepScalingPolicy(policy.Name, Resolve(step.Metric, perTask: false), step);
        }

        if (policy.Scheduled is { } scheduled)
        {
            return CronSchedule.TryParse(scheduled.Cron, scheduled.TimeZone, out var schedule, out var cronError, out var zoneError)
                ? new ScheduledScalingPolicy(policy.Name, schedule, scheduled)
                : throw new ArgumentException($"policy {policy.Name}: {cronError}{zoneError}", nameof(policy));
        }

        throw new ArgumentException($"policy {policy.Name} has no kind; valid: {string.Join(", ", All)}", nameof(policy));
    }

    private static ScalingMetric Resolve(string name, bool perTask) =>
        ScalingMetrics.TryResolve(name, perTask, out var metric, out var error)
            ? metric
            : throw new ArgumentException(error, nameof(name));
}
