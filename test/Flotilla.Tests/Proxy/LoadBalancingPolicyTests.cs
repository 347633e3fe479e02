using Flotilla.Core.LoadBalancing;
using Flotilla.Core.Spec;
using Flotilla.Proxy.LoadBalancing;
using Flotilla.Proxy.Targets;
using Microsoft.AspNetCore.Http;

namespace Flotilla.Tests.Proxy;

public sealed class LoadBalancingPolicyTests
{
    private static readonly HttpContext Context = new DefaultHttpContext();

    private static List<string> Pick(ILoadBalancingPolicy policy, TargetSet targets, int times, long timestamp = 0) =>
        Enumerable.Range(0, times).Select(_ => policy.Pick(Context, targets, timestamp).TaskId).ToList();

    [Fact]
    public void Registry_EveryNameInTheSpec_CreatesAPolicyOfThatName()
    {
        Assert.Equal(LoadBalancingNames.All.Order(), LoadBalancingPolicies.Names.Order());
        Assert.All(LoadBalancingNames.All, name =>
            Assert.Equal(name, LoadBalancingPolicies.Create(new LoadBalancingSpec { Algorithm = name }, new Random(1)).Name));
    }

    [Fact]
    public void Registry_UnknownName_ListsTheValidOnes()
    {
        var error = Assert.Throws<ArgumentException>(() => LoadBalancingPolicies.Create(new LoadBalancingSpec { Algorithm = "fastest" }, new Random(1)));

        Assert.StartsWith("unknown load-balancing algorithm 'fastest'; valid: round_robin, ", error.Message);
    }

    [Fact]
    public void RoundRobin_Picks_EachTargetInTurn()
    {
        var picks = Pick(new RoundRobinPolicy(), Targets.Idle(Targets.Time(), 3), 6);

        Assert.Equal(["t0", "t1", "t2", "t0", "t1", "t2"], picks);
    }

    [Fact]
    public void LeastRequests_Picks_TheTargetWithFewestInFlight()
    {
        var picks = Pick(new LeastRequestsPolicy(), Targets.WithInFlight(Targets.Time(), 4, 1, 3), 5);

        Assert.All(picks, p => Assert.Equal("t1", p));
    }

    [Fact]
    public void LeastRequests_Ties_AreSpreadRoundRobin()
    {
        var picks = Pick(new LeastRequestsPolicy(), Targets.Idle(Targets.Time(), 3), 30);

        Assert.All(picks.GroupBy(p => p), g => Assert.Equal(10, g.Count()));
    }

    [Fact]
    public void LeastRequests_TieAmongSomeTargets_NeverPicksABusierOne()
    {
        var picks = Pick(new LeastRequestsPolicy(), Targets.WithInFlight(Targets.Time(), 2, 1, 5, 1), 20);

        Assert.Equal(["t1", "t3"], picks.Distinct().Order());
    }
}
