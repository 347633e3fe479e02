using Flotilla.Proxy.LoadBalancing;

namespace Flotilla.Tests.Proxy;

public sealed class RoundRobinPolicyTests
{
    [Fact]
    public void Pick_NoSlowStart_TakesEachTargetInTurn()
    {
        var picks = Picks.Of(new RoundRobinPolicy(), Targets.Idle(Targets.Time(), 3), 6);

        Assert.Equal(["t0", "t1", "t2", "t0", "t1", "t2"], picks);
    }

    [Fact]
    public void Pick_Weights_AreIgnored()
    {
        var picks = Picks.Of(new RoundRobinPolicy(), Targets.Weighted(Targets.Time(), 5, 1, 1), 6);

        Assert.Equal(["t0", "t1", "t2", "t0", "t1", "t2"], picks);
    }

    [Fact]
    public void Pick_TargetInSlowStart_GetsItsRampedShare()
    {
        var time = Targets.Time();
        var targets = Targets.Set(Targets.New("t0", time), Targets.New("t1", time), Targets.New("t2", time, slowStart: TimeSpan.FromSeconds(100)));
        var policy = new RoundRobinPolicy();

        var atStart = Picks.Counts(targets, Picks.Of(policy, targets, 2100, time.GetTimestamp()));
        time.Advance(TimeSpan.FromSeconds(50));
        var halfway = Picks.Counts(targets, Picks.Of(policy, targets, 2550, time.GetTimestamp()));

        // Factors 1 : 1 : 0.1, then 1 : 1 : 0.55.
        Assert.Equal([1000, 1000, 100], atStart, (expected, actual) => Math.Abs(expected - actual) <= 2);
        Assert.Equal([1000, 1000, 550], halfway, (expected, actual) => Math.Abs(expected - actual) <= 2);
    }

    [Fact]
    public void Pick_SlowStartOver_IsPlainRotationAgain()
    {
        var time = Targets.Time();
        var targets = Targets.Set(Targets.New("t0", time), Targets.New("t1", time, slowStart: TimeSpan.FromSeconds(30)), Targets.New("t2", time));
        var policy = new RoundRobinPolicy();
        Picks.Of(policy, targets, 100, time.GetTimestamp());

        time.Advance(TimeSpan.FromSeconds(30));
        var picks = Picks.Of(policy, targets, 30, time.GetTimestamp());

        Assert.All(picks.Chunk(3), turn => Assert.Equal(["t0", "t1", "t2"], turn.Order()));
    }
}
