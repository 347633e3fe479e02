using System.Collections.Immutable;
using Flotilla.Core.Spec;

namespace Flotilla.Core.Autoscaling;

/// <summary>A change of the count the autoscaler made.</summary>
/// <param name="At">When.</param>
/// <param name="From">The count before.</param>
/// <param name="To">The count after.</param>
/// <param name="Reason">Why, with figures: <c>active_requests 14.2 per target &gt; target 5 (policy concurrency)</c>.</param>
public sealed record ScalingChange(DateTimeOffset At, int From, int To, string Reason);

/// <summary>What the autoscaler remembers of one service between evaluations. Immutable; the decider returns the next one.</summary>
public sealed record AutoscalerState
{
    /// <summary>How many past values per policy to keep: the most periods a step policy may look back.</summary>
    public const int DatapointsKept = 60;

    /// <summary>Before the first evaluation.</summary>
    public static AutoscalerState Initial { get; } = new();

    /// <summary>When the service was last evaluated.</summary>
    public DateTimeOffset? LastEvaluatedAt { get; init; }

    /// <summary>The count the last evaluation left, so that a change made by someone else (<c>flotilla scale</c>) is noticed.</summary>
    public int? LastDesired { get; init; }

    /// <summary>When the autoscaler last scaled out.</summary>
    public DateTimeOffset? LastScaleOutAt { get; init; }

    /// <summary>The count before that scale-out, which step adjustments add to while its cooldown lasts.</summary>
    public int ScaleOutBase { get; init; }

    /// <summary>When the count last changed, by the autoscaler or by hand: scale-in waits a cooldown after it.</summary>
    public DateTimeOffset? LastChangeAt { get; init; }

    /// <summary>The autoscaler's last change, for <c>flotilla autoscaling</c>.</summary>
    public ScalingChange? LastChange { get; init; }

    /// <summary>Each policy's values at its recent evaluations, oldest first.</summary>
    public ImmutableDictionary<string, ImmutableArray<double?>> Datapoints { get; init; } = ImmutableDictionary<string, ImmutableArray<double?>>.Empty;
}

/// <summary>One evaluation's outcome: the count to set, if any, and everything a person would ask about it.</summary>
/// <param name="NewDesired">The count to set; null to leave it.</param>
/// <param name="Reason">For a change, the event's reason with figures; otherwise why the count stays.</param>
/// <param name="Wishes">Each policy's wish, in the spec's order.</param>
/// <param name="Min">The min in force (a scheduled action's, or the spec's).</param>
/// <param name="Max">The max in force.</param>
/// <param name="ScaleOutCooldownLeft">How long step adjustments still add to the count before the last scale-out.</param>
/// <param name="ScaleInCooldownLeft">How long before a scale-in may happen.</param>
/// <param name="NextScheduled">The next scheduled action, if any.</param>
/// <param name="State">What to remember for the next evaluation.</param>
public sealed record AutoscalerDecision(
    int? NewDesired,
    string Reason,
    ImmutableArray<PolicyWish> Wishes,
    int Min,
    int Max,
    TimeSpan ScaleOutCooldownLeft,
    TimeSpan ScaleInCooldownLeft,
    ScheduledAction? NextScheduled,
    AutoscalerState State);

/// <summary>
/// Combines a service's policies into one count, as AWS Application Auto Scaling and Kubernetes' HPA do. A pure function
/// of the spec, the policies, the figures of one evaluation and the state the previous one left:
/// <list type="bullet">
/// <item>A scheduled action's desired count that fires now is set as is, within the min and max then in force.</item>
/// <item>A count outside [min, max] — a scheduled action moved a bound, or a hand — is brought to the nearest bound at once.</item>
/// <item>Scale out as soon as any policy asks for more, to the largest wish, capped at max. Under-capacity hurts users;
/// over-capacity only costs, and warm-up keeps tasks that are starting from being counted twice.</item>
/// <item>Scale in only when every policy with an opinion asks for fewer, no metric is missing and no deployment is in
/// progress; to the largest of their wishes, by at most <c>maxScaleInStep</c> tasks, once per <c>scaleInCooldown</c>
/// after any change of the count (and after the first evaluation), and never below min.</item>
/// </list>
/// </summary>
public static class AutoscalerDecider
{
    /// <summary>One evaluation of one service.</summary>
    /// <param name="spec">The service's autoscaling block.</param>
    /// <param name="policies">Its policies, built from <paramref name="spec"/> by <see cref="ScalingPolicies.Create(AutoscalingSpec)"/>.</param>
    /// <param name="inputs">The figures of this evaluation.</param>
    /// <param name="state">What the previous evaluation left; <see cref="AutoscalerState.Initial"/> at the first.</param>
    public static AutoscalerDecision Decide(AutoscalingSpec spec, ImmutableArray<IScalingPolicy> policies, ScalingInputs inputs, AutoscalerState state)
    {
        var now = inputs.Now;
        var current = inputs.Desired;

        // A count someone else changed since the last evaluation (flotilla scale) is a change like the autoscaler's own:
        // scale-in waits its cooldown after it, so that a hand that just added tasks is not undone at once. So is the
        // first evaluation: the metric store starts empty and the tasks are starting, so the count from the spec (or
        // from before a restart) stands for a cooldown before anything is removed.
        var lastChangeAt = state.LastDesired is not { } seen ? now
            : seen != current ? now
            : state.LastChangeAt;
        var scaleOutLeft = Left(state.LastScaleOutAt, spec.ScaleOutCooldown, now);
        var scaleInLeft = Left(lastChangeAt, spec.ScaleInCooldown, now);
        var stepBase = scaleOutLeft > TimeSpan.Zero ? Math.Min(state.ScaleOutBase, current) : current;

        var wishes = policies
            .Select(p => p.Evaluate(new ScalingContext(inputs, state.LastEvaluatedAt, stepBase, state.Datapoints.GetValueOrDefault(p.Name, []))))
            .ToImmutableArray();
        var (min, max, minBy, maxBy) = Bounds(spec, wishes);

        int target;
        string reason;
        if (wishes.LastOrDefault(w => w.Instruction) is { Desired: { } instructed } instruction)
        {
            target = Math.Clamp(instructed, min, max);
            reason = $"{instruction.Explanation} (policy {instruction.Policy}){(target == instructed ? "" : $", within min {min} and max {max}")}";
        }
        else if (current < min)
        {
            target = min;
            reason = $"below min {min}{minBy}";
        }
        else if (current > max)
        {
            target = max;
            reason = $"above max {max}{maxBy}";
        }
        else if (wishes.Where(w => w.Desired > current).MaxBy(w => w.Desired) is { Desired: { } wanted } scaleOut)
        {
            target = Math.Min(wanted, max);
            reason = $"{scaleOut.Explanation} (policy {scaleOut.Policy}){(wanted <= max ? "" : current == max ? $"; at max {max} (wanted {wanted})" : $"; capped at max {max} (wanted {wanted})")}";
        }
        else
        {
            (target, reason) = ScaleIn(spec, wishes, inputs, min, scaleInLeft);
        }

        var changed = target != current;
        var next = state with
        {
            LastEvaluatedAt = now,
            LastDesired = target,
            LastChangeAt = changed ? now : lastChangeAt,
            LastScaleOutAt = target > current ? now : state.LastScaleOutAt,
            ScaleOutBase = target > current ? stepBase : state.ScaleOutBase,
            LastChange = changed ? new ScalingChange(now, current, target, reason) : state.LastChange,
            Datapoints = Remember(state.Datapoints, wishes),
        };
        return new AutoscalerDecision(
            changed ? target : null,
            changed ? reason : $"holding at {current}: {reason}",
            wishes,
            min,
            max,
            target > current ? spec.ScaleOutCooldown : scaleOutLeft,
            changed ? spec.ScaleInCooldown : scaleInLeft,
            wishes.Select(w => w.Next).OfType<ScheduledAction>().MinBy(a => a.At),
            next);
    }

    /// <summary>The count every policy agrees to go down to, or why the count stays.</summary>
    private static (int Target, string Reason) ScaleIn(AutoscalingSpec spec, ImmutableArray<PolicyWish> wishes, ScalingInputs inputs, int min, TimeSpan cooldownLeft)
    {
        var current = inputs.Desired;
        var voters = wishes.Where(w => w.Wish != WishKind.NoOpinion && !w.Instruction).ToList();
        if (voters.Count == 0)
        {
            return (current, wishes.IsEmpty ? "no policy" : "no policy has an opinion: " + Join(wishes));
        }

        if (voters.FirstOrDefault(w => w.Wish == WishKind.MetricMissing) is { } blind)
        {
            return (current, $"no scale-in while a metric is missing: {blind.Explanation} (policy {blind.Policy})");
        }

        if (voters.FirstOrDefault(w => w.Desired >= current) is { } content)
        {
            return (current, $"{content.Explanation} (policy {content.Policy})");
        }

        var agreed = Join(voters);
        var wanted = voters.Max(w => w.Desired!.Value);
        if (current <= min)
        {
            return (current, $"at min {min}; {agreed}");
        }

        if (inputs.DeploymentInProgress)
        {
            return (current, $"no scale-in while a deployment is in progress; {agreed}");
        }

        if (cooldownLeft > TimeSpan.Zero)
        {
            return (current, $"scale-in cooldown, {Durations.Format(Durations.CeilingSeconds(cooldownLeft))} left; {agreed}");
        }

        var target = Math.Max(Math.Max(wanted, current - spec.MaxScaleInStep), min);
        var limit = target == min && min > wanted ? $"; not below min {min}"
            : target > wanted ? $"; at most {spec.MaxScaleInStep} per scale-in cooldown ({Durations.Format(spec.ScaleInCooldown)})"
            : "";
        return (target, agreed + limit);
    }

    /// <summary>
    /// The min and max in force: for each, the scheduled action that set it last, or the spec's. Should two actions
    /// leave min above max, max wins: it is the bound that protects the machine.
    /// </summary>
    private static (int Min, int Max, string MinBy, string MaxBy) Bounds(AutoscalingSpec spec, ImmutableArray<PolicyWish> wishes)
    {
        var scheduled = wishes.Where(w => w.Bounds is not null).OrderBy(w => w.Bounds!.Since).ToList();
        var min = scheduled.LastOrDefault(w => w.Bounds!.Min is not null);
        var max = scheduled.LastOrDefault(w => w.Bounds!.Max is not null);
        var maxValue = max?.Bounds!.Max ?? spec.Max;
        return (
            Math.Min(min?.Bounds!.Min ?? spec.Min, maxValue),
            maxValue,
            min is null ? "" : $" set by scheduled action {min.Policy}",
            max is null ? "" : $" set by scheduled action {max.Policy}");
    }

    private static ImmutableDictionary<string, ImmutableArray<double?>> Remember(ImmutableDictionary<string, ImmutableArray<double?>> datapoints, ImmutableArray<PolicyWish> wishes)
    {
        var builder = datapoints.ToBuilder();
        // Only step policies read their past values (datapoints out of periods).
        foreach (var wish in wishes.Where(w => w.Metric is not null && w.Kind == ScalingPolicies.Step))
        {
            var past = datapoints.GetValueOrDefault(wish.Policy, []);
            builder[wish.Policy] = past.Length < AutoscalerState.DatapointsKept ? past.Add(wish.Value) : past.RemoveAt(0).Add(wish.Value);
        }

        return builder.ToImmutable();
    }

    private static string Join(IEnumerable<PolicyWish> wishes) => string.Join("; ", wishes.Select(w => $"{w.Explanation} (policy {w.Policy})"));

    private static TimeSpan Left(DateTimeOffset? since, TimeSpan cooldown, DateTimeOffset now) =>
        since is { } at && at + cooldown > now ? at + cooldown - now : TimeSpan.Zero;
}
