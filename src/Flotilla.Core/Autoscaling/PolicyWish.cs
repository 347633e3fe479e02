namespace Flotilla.Core.Autoscaling;

/// <summary>What a policy thinks of the count at one evaluation.</summary>
public enum WishKind
{
    /// <summary>It wants <see cref="PolicyWish.Desired"/> tasks; the current count when it is content.</summary>
    Count,

    /// <summary>It neither asks for more nor objects to fewer (a step policy whose alarms are quiet, latency below target).</summary>
    NoOpinion,

    /// <summary>
    /// Its metric has no data (or not for every task): it blocks scale-in, since removing capacity blind is how outages
    /// start; a <see cref="PolicyWish.Desired"/> from the data it has may still scale out.
    /// </summary>
    MetricMissing,
}

/// <summary>The min and max a scheduled action set, and since when they hold.</summary>
/// <param name="Min">The min it set, or null to leave it.</param>
/// <param name="Max">The max it set, or null to leave it.</param>
/// <param name="Since">When the action last fired.</param>
public sealed record ScheduledBounds(int? Min, int? Max, DateTimeOffset Since);

/// <summary>A policy's wish at one evaluation, with the figures behind it.</summary>
/// <param name="Policy">The policy's name.</param>
/// <param name="Kind">The policy's kind (<see cref="ScalingPolicies"/>).</param>
/// <param name="Wish">What it thinks.</param>
/// <param name="Desired">The count it wants; for <see cref="WishKind.MetricMissing"/>, what the data it has asks for, if anything.</param>
/// <param name="Explanation">Why, with figures: <c>active_requests 14.2 per target &gt; target 5</c>.</param>
public sealed record PolicyWish(string Policy, string Kind, WishKind Wish, int? Desired, string Explanation)
{
    /// <summary>The metric it reads, if any.</summary>
    public string? Metric { get; init; }

    /// <summary>
    /// The metric's figure at this evaluation, in its unit (per target where it is shared among tasks); the decider keeps
    /// the recent ones, which a step policy's "M of N" reads.
    /// </summary>
    public double? Value { get; init; }

    /// <summary>Its target, or for a step policy its upper threshold.</summary>
    public double? Target { get; init; }

    /// <summary>A scheduled action's desired count that fired at this evaluation: an instruction, not a wish — it ignores agreement and cooldowns.</summary>
    public bool Instruction { get; init; }

    /// <summary>A scheduled action's min and max, once it has fired.</summary>
    public ScheduledBounds? Bounds { get; init; }

    /// <summary>A scheduled action's next firing.</summary>
    public ScheduledAction? Next { get; init; }
}

/// <summary>A scheduled action's next firing.</summary>
/// <param name="Policy">The scheduled policy.</param>
/// <param name="At">When.</param>
/// <param name="Local">When, in the schedule's time zone: <c>2026-03-30 07:45 Europe/Paris</c>.</param>
/// <param name="Sets">What it sets: <c>min 4, max 20, desired 6</c>.</param>
public sealed record ScheduledAction(string Policy, DateTimeOffset At, string Local, string Sets);
