using Flotilla.Core.Spec;

namespace Flotilla.Tests.Autoscaling;

/// <summary>Step scaling on a custom metric compared as pushed (a backlog), through the whole simulated path.</summary>
public sealed class StepScalingTests
{
    private const string Backlog = "backlog";

    [Fact]
    public void Decide_BreachInTwoOfThreeEvaluations_AddsTheStepMatchingHowFarOver()
    {
        var sim = Simulation(Policies.Step("surge", Backlog, upper: 100, datapoints: 2, periods: 3));
        sim.Run(TimeSpan.FromSeconds(15), Push(sim, 112));
        Assert.Empty(sim.Changes);

        sim.Run(TimeSpan.FromSeconds(15), Push(sim, 50));
        sim.Run(TimeSpan.FromSeconds(15), Push(sim, 112));

        var change = Assert.Single(sim.Changes);
        Assert.Equal((2, 5), (change.From, change.To));
        Assert.Equal("backlog 112 > upper 100 in 2 of the last 3 evaluations: +3 (12% over) (policy surge)", change.Reason);
    }

    [Fact]
    public void Decide_BreachGrowingDuringTheScaleOutCooldown_AddsOnlyTheDifference()
    {
        var sim = Simulation(Policies.Step("surge", Backlog, upper: 100));
        sim.Run(TimeSpan.FromSeconds(15), Push(sim, 112));
        sim.Run(TimeSpan.FromSeconds(15), Push(sim, 112));
        Assert.Equal(5, sim.Desired);

        sim.Run(TimeSpan.FromSeconds(15), Push(sim, 130));

        Assert.Equal([(2, 5), (5, 7)], sim.Changes.Select(c => (c.From, c.To)));
        Assert.Contains("+5 to 2, the count before the last scale-out (cooldown)", sim.Changes.Last().Reason);
    }

    [Fact]
    public void Decide_BreachOutlastingTheCooldown_AddsItsStepAgain()
    {
        var sim = Simulation(Policies.Step("surge", Backlog, upper: 100));

        sim.Run(TimeSpan.FromSeconds(75), Push(sim, 105));

        Assert.Equal([(2, 3), (3, 4)], sim.Changes.Select(c => (c.From, c.To)));
        Assert.True(sim.Changes.Last().At - sim.Changes.First().At >= TimeSpan.FromSeconds(60));
    }

    [Fact]
    public void Decide_BelowLowerThreshold_RemovesAtMostMaxScaleInStep()
    {
        var sim = Simulation(Policies.Step("surge", Backlog, upper: 100, lower: 20), desired: 8, scaleInCooldown: TimeSpan.Zero);

        sim.Run(TimeSpan.FromSeconds(15), Push(sim, 2));

        var change = Assert.Single(sim.Changes);
        Assert.Equal((8, 7), (change.From, change.To));
        Assert.Equal("backlog 2 < lower 20 in 1 of the last 1 evaluation: -5 (90% under) (policy surge); at most 1 per scale-in cooldown (0s)", change.Reason);
    }

    [Fact]
    public void Decide_BetweenThresholds_HasNoOpinion()
    {
        var sim = Simulation(Policies.Step("surge", Backlog, upper: 100, lower: 20));

        sim.Run(TimeSpan.FromMinutes(2), Push(sim, 50));

        Assert.Empty(sim.Changes);
        Assert.Equal("holding at 2: no policy has an opinion: backlog 50, between lower 20 and upper 100 (0 of the last 1 evaluation past a threshold, 1 needed) (policy surge)", sim.Last.Reason);
    }

    private static ScalingSimulation Simulation(ScalingPolicySpec step, int desired = 2, TimeSpan? scaleInCooldown = null) =>
        new(new AutoscalingSpec { Max = 20, ScaleInCooldown = scaleInCooldown ?? TimeSpan.FromMinutes(5), Policies = [step] }, desired);

    private static Action<double, IReadOnlyList<Core.Fleet.TaskRecord>> Push(ScalingSimulation sim, double backlog) =>
        (_, _) => sim.Store.PutCustom(ScalingSimulation.Service, Backlog, backlog);
}
