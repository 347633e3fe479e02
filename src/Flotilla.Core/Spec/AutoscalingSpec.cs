using System.Collections.Immutable;

namespace Flotilla.Core.Spec;

/// <summary>
/// What a task may use: the 100% marks of the <c>cpu</c> and <c>memory</c> scaling metrics. Flotilla does not enforce
/// them (tasks are plain processes, not cgroups); they say what "fully used" means for one task.
/// </summary>
public sealed record ResourcesSpec
{
    /// <summary>Cores one task may use, e.g. <c>0.5</c>; <c>cpu</c> target tracking is then a percentage of it. Default: none (a percentage of one core); 0.01 to 256.</summary>
    public double? Cpu { get; init; }

    /// <summary>Memory one task may use, in MiB; <c>memory</c> target tracking is a percentage of it, and needs it. Default: none; 1 to 1,048,576.</summary>
    public int? MemoryMb { get; init; }
}

/// <summary>
/// Autoscaling of one service: policies that each wish for a count, and the rules that keep their wishes sane —
/// bounds, cooldowns, a cap on each scale-in, warm-up. Defaults from AWS Application Auto Scaling and Kubernetes' HPA.
/// </summary>
public sealed record AutoscalingSpec
{
    /// <summary><see cref="Max"/> when the spec leaves it out, which validation reports: it is required.</summary>
    public const int MissingMax = 0;

    /// <summary>The fewest tasks. Default 1; 0 (scale to zero, for queue workers with a backlog metric) to <see cref="Max"/>. 2 or more is recommended behind a listener.</summary>
    public int Min { get; init; } = 1;

    /// <summary>
    /// Required. The most tasks any policy may ask for, 1 to <see cref="ServiceSpec.MaxDesired"/>: required, so that a
    /// runaway metric cannot start a machine's worth of processes.
    /// </summary>
    public int Max { get; init; } = MissingMax;

    /// <summary>
    /// After a scale-out, how long step adjustments count from the count before it, so that one breach does not add
    /// twice (AWS's rule). Target tracking asks for an absolute count and may add more meanwhile. Default 60s; 0s to 1h.
    /// </summary>
    public TimeSpan ScaleOutCooldown { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>After any change of the count, how long before a scale-in. Default 300s (HPA's scale-down stabilisation); 0s to 1h.</summary>
    public TimeSpan ScaleInCooldown { get; init; } = TimeSpan.FromSeconds(300);

    /// <summary>The most tasks one scale-in removes. Default 1; 1 to 100. Scale-out has no such cap: under-capacity hurts users, over-capacity only costs.</summary>
    public int MaxScaleInStep { get; init; } = 1;

    /// <summary>
    /// How long after a task becomes healthy its own cpu and memory figures are replaced by the policy's target: a task
    /// that has just started is busy compiling and filling caches, and its figures say nothing of the load yet. Metrics
    /// measured at the load balancer or a queue need none. Default 60s (the scale-out cooldown, which AWS uses as the
    /// warm-up of ECS tasks); 0s to 1h.
    /// </summary>
    public TimeSpan Warmup { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>
    /// How often the policies are evaluated; each evaluation reads the mean of each metric over this interval, so it is
    /// also the metrics' window and a step policy's period. Default 15s (HPA's sync period); 1s to 5m.
    /// </summary>
    public TimeSpan EvaluationInterval { get; init; } = TimeSpan.FromSeconds(15);

    /// <summary>The policies, at least one; scale out when any asks, scale in only when all agree.</summary>
    public ImmutableArray<ScalingPolicySpec> Policies { get; init; } = [];
}

/// <summary>One scaling policy: a name for events and exactly one of <see cref="TargetTracking"/>, <see cref="Step"/> or <see cref="Scheduled"/>.</summary>
public sealed record ScalingPolicySpec
{
    /// <summary>Required. Names the policy in events and in <c>flotilla autoscaling</c>; lower-case letters, digits and '-', unique in the service.</summary>
    public string Name { get; init; } = "";

    /// <summary>Keep a metric per task at a target.</summary>
    public TargetTrackingSpec? TargetTracking { get; init; }

    /// <summary>Add or remove tasks in steps when a metric crosses thresholds.</summary>
    public StepScalingSpec? Step { get; init; }

    /// <summary>Set min, max and desired at times given by a cron expression.</summary>
    public ScheduledScalingSpec? Scheduled { get; init; }
}

/// <summary>
/// Target tracking, as AWS and HPA do it: desired = ceil(tasks × value / target), nothing while the value is within
/// 10% of the target.
/// </summary>
public sealed record TargetTrackingSpec
{
    /// <summary>Required. <c>cpu</c>, <c>memory</c>, <c>requests_per_target</c>, <c>active_requests</c>, <c>p95_latency</c>, <c>p99_latency</c>, or a custom metric's name.</summary>
    public string Metric { get; init; } = "";

    /// <summary>Required. The value per task to keep, in the metric's unit (%, requests/s, requests, ms, or the custom metric's); above 0.</summary>
    public double Target { get; init; }

    /// <summary>
    /// Custom metrics only. True: the metric is a total for the service (a queue's backlog), and the target is per task:
    /// desired = ceil(value / target), which also works from zero tasks. False (default): the metric is already per task.
    /// </summary>
    public bool PerTask { get; init; }
}

/// <summary>
/// Step scaling, as AWS does it: when the metric per task is above <see cref="Upper"/> (or below <see cref="Lower"/>)
/// in <see cref="Datapoints"/> of the last <see cref="Periods"/> evaluations, add (or remove) the tasks of the step
/// matching how far past the threshold it is.
/// </summary>
public sealed record StepScalingSpec
{
    /// <summary>Required. A metric name, as for target tracking.</summary>
    public string Metric { get; init; } = "";

    /// <summary>Scale out above this value. Default: none. At least one of upper and lower.</summary>
    public double? Upper { get; init; }

    /// <summary>Scale in below this value; less than <see cref="Upper"/>. Default: none. Not for latency metrics, which never scale in.</summary>
    public double? Lower { get; init; }

    /// <summary>
    /// The steps, by how far past the threshold the value is, in percent of the threshold. Default: +1 at 0%, +3 at 10%,
    /// +5 at 25%; the same tasks are removed at the same distances below <see cref="Lower"/>.
    /// </summary>
    public ImmutableArray<StepAdjustmentSpec> Adjustments { get; init; } = [new(0, 1), new(10, 3), new(25, 5)];

    /// <summary>How many of the last <see cref="Periods"/> evaluations must breach. Default 3; 1 to <see cref="Periods"/>.</summary>
    public int Datapoints { get; init; } = 3;

    /// <summary>How many evaluations to look back. Default 3; 1 to 60.</summary>
    public int Periods { get; init; } = 3;
}

/// <summary>One step: at least <paramref name="OverPercent"/>% past the threshold, change the count by <paramref name="Change"/> tasks.</summary>
/// <param name="OverPercent">How far past the threshold, in percent of it; 0 or more, increasing from step to step.</param>
/// <param name="Change">Tasks to add above the upper threshold (and to remove below the lower one); 1 to 100.</param>
public sealed record StepAdjustmentSpec(double OverPercent, int Change);

/// <summary>
/// A scheduled action, as AWS's: at each time <see cref="Cron"/> names, in <see cref="TimeZone"/>, set the service's
/// min and max (they hold until another action changes them) and its desired count (once; the policies go on from it).
/// </summary>
public sealed record ScheduledScalingSpec
{
    /// <summary>Required. Five fields (minute hour day-of-month month day-of-week), e.g. <c>45 7 * * 1-5</c>.</summary>
    public string Cron { get; init; } = "";

    /// <summary>An IANA time zone such as <c>Europe/Paris</c>; the cron's times are local to it, across DST changes. Default <c>UTC</c>.</summary>
    public string TimeZone { get; init; } = "UTC";

    /// <summary>The min from then on. Default: unchanged.</summary>
    public int? Min { get; init; }

    /// <summary>The max from then on. Default: unchanged.</summary>
    public int? Max { get; init; }

    /// <summary>The desired count to set at that time, within the min and max then in force. Default: unchanged.</summary>
    public int? Desired { get; init; }
}
