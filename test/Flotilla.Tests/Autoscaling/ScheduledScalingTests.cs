using System.Collections.Immutable;
using Flotilla.Core.Autoscaling;
using Flotilla.Core.Spec;

namespace Flotilla.Tests.Autoscaling;

/// <summary>Scheduled actions, evaluated every minute by the decider on plain figures, across real IANA time zones.</summary>
public sealed class ScheduledScalingTests
{
    [Fact]
    public void Decide_WeekdayMorningActionAcrossTheSpringDstChange_FiresAtSevenFortyFiveLocalTime()
    {
        // Paris moves from UTC+1 to UTC+2 on Sunday 29 March 2026: 07:45 is 06:45Z on Friday and 05:45Z on Monday.
        var spec = Spec(Policies.Scheduled("morning", "45 7 * * 1-5", "Europe/Paris", min: 4, desired: 6));

        var fired = Evaluate(spec, Utc(2026, 3, 27, 5, 0), Utc(2026, 3, 30, 8, 0), desired: 2)
            .Where(d => d.Decision.Wishes.Any(w => w.Instruction))
            .ToList();

        Assert.Equal([Utc(2026, 3, 27, 6, 45), Utc(2026, 3, 30, 5, 45)], fired.Select(d => d.At));
        Assert.Equal("scheduled action at 2026-03-27 07:45 Europe/Paris sets min 4, desired 6 (policy morning)", fired[0].Decision.Reason);
        Assert.Equal("scheduled action at 2026-03-30 07:45 Europe/Paris sets min 4, desired 6", fired[1].Decision.Wishes.Single().Explanation);
    }

    [Fact]
    public void Decide_NightlyActionAcrossTheAutumnDstChange_FiresOnceAtTheFirstOfTheRepeatedHour()
    {
        // New York repeats 01:00–02:00 on Sunday 1 November 2026 (EDT, UTC-4, then EST, UTC-5).
        var spec = Spec(Policies.Scheduled("night", "30 1 * * *", "America/New_York", desired: 3));

        var fired = Evaluate(spec, Utc(2026, 10, 31, 12, 0), Utc(2026, 11, 2, 12, 0), desired: 2)
            .Where(d => d.Decision.Wishes.Any(w => w.Instruction))
            .Select(d => d.At);

        Assert.Equal([Utc(2026, 11, 1, 5, 30), Utc(2026, 11, 2, 6, 30)], fired);
    }

    [Fact]
    public void Decide_ActionAtATimeTheSpringDstChangeSkips_FiresOnceAtTheJump()
    {
        var spec = Spec(Policies.Scheduled("night", "30 2 * * *", "Europe/Paris", desired: 3));

        var fired = Evaluate(spec, Utc(2026, 3, 28, 12, 0), Utc(2026, 3, 29, 12, 0), desired: 2)
            .Where(d => d.Decision.Wishes.Any(w => w.Instruction))
            .Select(d => d.At);

        Assert.Equal([Utc(2026, 3, 29, 1, 0)], fired);
    }

    [Fact]
    public void Decide_ScheduledMinAboveTheCount_RaisesItAtOnceAndHoldsTheBoundAfterwards()
    {
        var spec = Spec(Policies.Scheduled("morning", "45 7 * * *", "UTC", min: 4), Policies.Scheduled("evening", "0 20 * * *", "UTC", min: 1));

        var decisions = Evaluate(spec, Utc(2026, 11, 23, 7, 40), Utc(2026, 11, 23, 8, 0), desired: 2);

        var raised = Assert.Single(decisions, d => d.Decision.NewDesired is not null);
        Assert.Equal(Utc(2026, 11, 23, 7, 45), raised.At);
        Assert.Equal(4, raised.Decision.NewDesired);
        Assert.Equal("below min 4 set by scheduled action morning", raised.Decision.Reason);
        Assert.Equal(4, decisions[^1].Decision.Min);
        Assert.Equal(1, decisions[0].Decision.Min);
    }

    [Fact]
    public void Decide_ScheduledMaxBelowTheCount_LowersItAtOnce()
    {
        var spec = Spec(Policies.Scheduled("evening", "0 20 * * *", "UTC", min: 1, max: 3));

        var decisions = Evaluate(spec, Utc(2026, 11, 23, 19, 58), Utc(2026, 11, 23, 20, 2), desired: 8);

        var lowered = Assert.Single(decisions, d => d.Decision.NewDesired is not null);
        Assert.Equal((3, "above max 3 set by scheduled action evening"), (lowered.Decision.NewDesired!.Value, lowered.Decision.Reason));
    }

    [Fact]
    public void Decide_AfterARestart_BoundsComeFromTheLatestFiringButNoDesiredIsSet()
    {
        var spec = Spec(Policies.Scheduled("morning", "45 7 * * 1-5", "Europe/Paris", min: 4, desired: 6));
        var policies = ScalingPolicies.Create(spec);

        var decision = AutoscalerDecider.Decide(spec, policies, Inputs(Utc(2026, 11, 23, 10, 0), 2), AutoscalerState.Initial);

        Assert.Equal(4, decision.Min);
        Assert.Equal(4, decision.NewDesired);
        Assert.Equal(new ScheduledAction("morning", Utc(2026, 11, 24, 6, 45), "2026-11-24 07:45 Europe/Paris", "min 4, desired 6"), decision.NextScheduled);
    }

    private static AutoscalingSpec Spec(params ScalingPolicySpec[] policies) => new() { Max = 20, EvaluationInterval = TimeSpan.FromMinutes(1), Policies = [.. policies] };

    private static DateTimeOffset Utc(int year, int month, int day, int hour, int minute) => new(year, month, day, hour, minute, 0, TimeSpan.Zero);

    private static ScalingInputs Inputs(DateTimeOffset now, int desired) => new(now, desired, desired, ImmutableDictionary<string, MetricReading>.Empty);

    /// <summary>Evaluates every minute from <paramref name="from"/> to <paramref name="to"/>, applying each change.</summary>
    private static List<(DateTimeOffset At, AutoscalerDecision Decision)> Evaluate(AutoscalingSpec spec, DateTimeOffset from, DateTimeOffset to, int desired)
    {
        var policies = ScalingPolicies.Create(spec);
        var state = AutoscalerState.Initial;
        var decisions = new List<(DateTimeOffset, AutoscalerDecision)>();
        for (var now = from; now <= to; now += spec.EvaluationInterval)
        {
            var decision = AutoscalerDecider.Decide(spec, policies, Inputs(now, desired), state);
            decisions.Add((now, decision));
            state = decision.State;
            desired = decision.NewDesired ?? desired;
        }

        return decisions;
    }
}
