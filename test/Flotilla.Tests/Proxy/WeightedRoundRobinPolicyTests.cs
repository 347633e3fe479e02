using Flotilla.Proxy.LoadBalancing;

namespace Flotilla.Tests.Proxy;

public sealed class WeightedRoundRobinPolicyTests
{
    [Fact]
    public void Pick_Weights511_EverySevenPicksAreFiveOneOne()
    {
        var targets = Targets.Weighted(Targets.Time(), 5, 1, 1);

        var picks = Picks.Of(new WeightedRoundRobinPolicy(), targets, 700);

        Assert.All(picks.Chunk(7), cycle => Assert.Equal([5, 1, 1], Picks.Counts(targets, cycle)));
    }

    [Fact]
    public void Pick_Weights511_InterleavesLikeNginxInsteadOfBursting()
    {
        var picks = Picks.Of(new WeightedRoundRobinPolicy(), Targets.Weighted(Targets.Time(), 5, 1, 1), 700);

        // nginx's smooth sequence is a a b a c a a; the longest run, 4, spans two cycles (…a a | a a…). A bursty
        // weighted round robin (a a a a a b c) would give runs of 5.
        Assert.Equal(["t0", "t0", "t1", "t0", "t2", "t0", "t0"], picks.Take(7));
        Assert.Equal(4, Picks.LongestRun(picks));
    }

    [Fact]
    public void Pick_TargetInSlowStart_ShareGrowsWithTheRamp()
    {
        var time = Targets.Time();
        var targets = Targets.Set(Targets.New("t0", time, weight: 2), Targets.New("t1", time, slowStart: TimeSpan.FromSeconds(100), weight: 2));
        var policy = new WeightedRoundRobinPolicy();

        var shares = new List<double>();
        for (var phase = 0; phase < 3; phase++)
        {
            shares.Add(Picks.Counts(targets, Picks.Of(policy, targets, 1000, time.GetTimestamp()))[1] / 1000.0);
            time.Advance(TimeSpan.FromSeconds(50));
        }

        // Effective weights 2 : 0.2, then 2 : 1.1, then 2 : 2.
        Assert.Equal([0.2 / 2.2, 1.1 / 3.1, 0.5], shares, (expected, actual) => Math.Abs(expected - actual) <= 0.005);
    }

    [Fact]
    public void Pick_WeightChanged_TakesEffectAtOnce()
    {
        var targets = Targets.Weighted(Targets.Time(), 1, 1);
        var policy = new WeightedRoundRobinPolicy();
        Picks.Of(policy, targets, 5);

        targets[0].Weight = 3;
        var picks = Picks.Of(policy, targets, 400);

        Assert.Equal([300, 100], Picks.Counts(targets, picks), (expected, actual) => Math.Abs(expected - actual) <= 1);
    }

    [Fact]
    public void Pick_NewTargetSet_SharesByTheNewSetsWeights()
    {
        var time = Targets.Time();
        var policy = new WeightedRoundRobinPolicy();
        Picks.Of(policy, Targets.Weighted(time, 5, 1, 1), 3);
        var next = Targets.Weighted(time, 1, 2);

        var picks = Picks.Of(policy, next, 30);

        Assert.All(picks.Chunk(3), cycle => Assert.Equal([1, 2], Picks.Counts(next, cycle)));
    }
}
