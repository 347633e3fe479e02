using Flotilla.Proxy.LoadBalancing;

namespace Flotilla.Tests.Proxy;

public sealed class PowerOfTwoPolicyTests
{
    [Fact]
    public void Pick_OneTargetFarBusier_IsNeverPicked()
    {
        var targets = Targets.WithInFlight(Targets.Time(), 0, 50, 0, 0);

        var counts = Picks.Counts(targets, Picks.Of(new PowerOfTwoPolicy(new Random(42)), targets, 10_000));

        // The two choices are distinct, so the busiest target always loses to the other one.
        Assert.Equal(0, counts[1]);
        Assert.All([counts[0], counts[2], counts[3]], c => Assert.InRange(c, 3333 - 200, 3333 + 200));
    }

    [Fact]
    public void Pick_AllIdle_SpreadIsNearUniform()
    {
        var targets = Targets.Idle(Targets.Time(), 4);

        var counts = Picks.Counts(targets, Picks.Of(new PowerOfTwoPolicy(new Random(42)), targets, 10_000));

        Assert.All(counts, c => Assert.InRange(c, 2375, 2625));
    }

    [Fact]
    public void Pick_OneTarget_ReturnsIt()
    {
        var picks = Picks.Of(new PowerOfTwoPolicy(new Random(42)), Targets.WithInFlight(Targets.Time(), 7), 10);

        Assert.All(picks, p => Assert.Equal("t0", p));
    }

    [Theory]
    [InlineData(3, 1, "t1")]
    [InlineData(1, 3, "t0")]
    public void Pick_TwoTargets_NeverPicksTheBusierOne(int inFlight0, int inFlight1, string expected)
    {
        var picks = Picks.Of(new PowerOfTwoPolicy(new Random(42)), Targets.WithInFlight(Targets.Time(), inFlight0, inFlight1), 100);

        Assert.All(picks, p => Assert.Equal(expected, p));
    }

    [Fact]
    public void Pick_BurstOfRequests_KeepsInFlightEven()
    {
        var targets = Targets.Idle(Targets.Time(), 8);

        Picks.Starting(new PowerOfTwoPolicy(new Random(42)), targets, 8000);

        // Random placement would leave a spread of about ±3√(8000/8) ≈ ±95; two choices keep it to a few requests.
        Assert.All(targets.Targets, t => Assert.InRange(t.InFlight, 1000 - 3, 1000 + 3));
    }

    [Fact]
    public void Pick_TargetInSlowStart_GetsLessUntilRamped()
    {
        var time = Targets.Time();
        var targets = Targets.Set(Targets.New("t0", time), Targets.New("t1", time), Targets.New("t2", time, slowStart: TimeSpan.FromSeconds(60)));

        Picks.Starting(new PowerOfTwoPolicy(new Random(42)), targets, 2100, time.GetTimestamp());

        Assert.InRange(targets[2].InFlight, 90, 110);
    }
}
