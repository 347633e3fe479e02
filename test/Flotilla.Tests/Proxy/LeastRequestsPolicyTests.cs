using Flotilla.Proxy.LoadBalancing;

namespace Flotilla.Tests.Proxy;

public sealed class LeastRequestsPolicyTests
{
    [Fact]
    public void Pick_UnevenLoad_PicksTheTargetWithFewestInFlight()
    {
        var picks = Picks.Of(new LeastRequestsPolicy(), Targets.WithInFlight(Targets.Time(), 4, 1, 3), 5);

        Assert.All(picks, p => Assert.Equal("t1", p));
    }

    [Fact]
    public void Pick_Ties_AreSpreadRoundRobin()
    {
        var picks = Picks.Of(new LeastRequestsPolicy(), Targets.Idle(Targets.Time(), 3), 30);

        Assert.All(picks.GroupBy(p => p), g => Assert.Equal(10, g.Count()));
    }

    [Fact]
    public void Pick_TieAmongSomeTargets_NeverPicksABusierOne()
    {
        var picks = Picks.Of(new LeastRequestsPolicy(), Targets.WithInFlight(Targets.Time(), 2, 1, 5, 1), 20);

        Assert.Equal(["t1", "t3"], picks.Distinct().Order());
    }

    [Fact]
    public void Pick_Weights31_InFlightSettlesInProportion()
    {
        var targets = Targets.Weighted(Targets.Time(), 3, 1);

        Picks.Starting(new LeastRequestsPolicy(), targets, 400);

        Assert.Equal([300, 100], targets.Targets.Select(t => t.InFlight), (expected, actual) => Math.Abs(expected - actual) <= 2);
    }

    [Fact]
    public void Pick_TargetInSlowStart_GetsLessUntilRamped()
    {
        var time = Targets.Time();
        var warm = Targets.New("t0", time);
        var ramping = Targets.New("t1", time, slowStart: TimeSpan.FromSeconds(90));
        var policy = new LeastRequestsPolicy();

        Picks.Starting(policy, Targets.Set(warm, ramping), 110, time.GetTimestamp());
        var duringRamp = (warm.InFlight, ramping.InFlight);
        time.Advance(TimeSpan.FromSeconds(90));
        var afterRamp = Picks.Counts(Targets.Set(warm, ramping), Picks.Starting(policy, Targets.Set(warm, ramping), 90, time.GetTimestamp()));

        // At 10% of its weight the new target fills up at a tenth of the in-flight count; at full weight it catches up.
        Assert.Equal((100, 10), duringRamp);
        Assert.Equal([0, 90], afterRamp);
    }
}
