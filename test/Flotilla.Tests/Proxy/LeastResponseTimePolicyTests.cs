using Flotilla.Proxy;
using Flotilla.Proxy.LoadBalancing;
using Microsoft.AspNetCore.Http;

namespace Flotilla.Tests.Proxy;

public sealed class LeastResponseTimePolicyTests
{
    [Fact]
    public void Pick_AllIdle_PrefersTheFasterTarget()
    {
        var time = Targets.Time();
        var targets = Targets.Set(Targets.Answered("t0", time, 50), Targets.Answered("t1", time, 10), Targets.Answered("t2", time, 30));

        var picks = Picks.Of(new LeastResponseTimePolicy(), targets, 10);

        Assert.All(picks, p => Assert.Equal("t1", p));
    }

    [Fact]
    public void Pick_InFlight_RaisesTheCost()
    {
        var time = Targets.Time();

        // 10ms × (9 + 1) = 100 against 50ms × (0 + 1) = 50.
        var targets = Targets.Set(Targets.Answered("t0", time, 10, inFlight: 9), Targets.Answered("t1", time, 50));

        Assert.Equal("t1", new LeastResponseTimePolicy().Pick(new HttpRequestFields(new DefaultHttpContext()), targets, 0).TaskId);
    }

    [Fact]
    public void Pick_BurstOfRequests_InFlightFollowsSpeed()
    {
        var time = Targets.Time();
        var targets = Targets.Set(Targets.Answered("t0", time, 10), Targets.Answered("t1", time, 30));

        Picks.Starting(new LeastResponseTimePolicy(), targets, 400);

        Assert.Equal([300, 100], targets.Targets.Select(t => t.InFlight), (expected, actual) => Math.Abs(expected - actual) <= 1);
    }

    [Fact]
    public void Pick_NoLatencyYet_CountsAsTheMeanOfTheKnown()
    {
        var time = Targets.Time();
        var fresh = Targets.New("t2", time);
        var targets = Targets.Set(Targets.Answered("t0", time, 10, inFlight: 2), Targets.Answered("t1", time, 30), fresh);
        var policy = new LeastResponseTimePolicy();

        // Costs 30, 30 and 20 × (0 + 1) = 20; then, with one in flight, 20 × 2 = 40.
        var idle = Picks.Of(policy, targets, 3);
        fresh.RequestStarted(time.GetTimestamp());
        var busy = Picks.Of(policy, targets, 4);

        Assert.All(idle, p => Assert.Equal("t2", p));
        Assert.Equal(["t0", "t1"], busy.Distinct().Order());
    }

    [Fact]
    public void Pick_NoLatencyYet_IsNeitherStarvedNorFlooded()
    {
        var time = Targets.Time();
        var targets = Targets.Set(Targets.Answered("t0", time, 10), Targets.Answered("t1", time, 30), Targets.New("t2", time));

        Picks.Starting(new LeastResponseTimePolicy(), targets, 1100);

        // Costed at the mean, 20ms, it settles between the 10ms and the 30ms target: shares 1/10 : 1/30 : 1/20 = 6 : 2 : 3.
        Assert.Equal([600, 200, 300], targets.Targets.Select(t => t.InFlight), (expected, actual) => Math.Abs(expected - actual) <= 2);
    }

    [Fact]
    public void Pick_NoLatencyAnywhere_PicksTheFewestInFlight()
    {
        var picks = Picks.Of(new LeastResponseTimePolicy(), Targets.WithInFlight(Targets.Time(), 2, 0, 1), 5);

        Assert.All(picks, p => Assert.Equal("t1", p));
    }

    [Fact]
    public void Pick_EqualCosts_AreSpreadRoundRobin()
    {
        var time = Targets.Time();
        var targets = Targets.Set(Targets.Answered("t0", time, 20), Targets.Answered("t1", time, 20), Targets.Answered("t2", time, 20));

        var picks = Picks.Of(new LeastResponseTimePolicy(), targets, 30);

        Assert.Equal([10, 10, 10], Picks.Counts(targets, picks));
    }
}
