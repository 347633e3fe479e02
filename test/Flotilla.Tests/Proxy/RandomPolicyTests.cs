using Flotilla.Proxy.LoadBalancing;

namespace Flotilla.Tests.Proxy;

public sealed class RandomPolicyTests
{
    [Fact]
    public void Pick_TenThousandTimes_EachOfFourWithinFivePercentOfAQuarter()
    {
        var targets = Targets.Idle(Targets.Time(), 4);

        var counts = Picks.Counts(targets, Picks.Of(new RandomPolicy(new Random(42)), targets, 10_000));

        Assert.All(counts, c => Assert.InRange(c, 2375, 2625));
    }

    [Fact]
    public void Pick_SameSeed_SameSequence()
    {
        var targets = Targets.Idle(Targets.Time(), 4);

        Assert.Equal(Picks.Of(new RandomPolicy(new Random(7)), targets, 50), Picks.Of(new RandomPolicy(new Random(7)), targets, 50));
    }
}
