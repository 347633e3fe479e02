using Flotilla.Core.LoadBalancing;
using Flotilla.Proxy.LoadBalancing;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Yarp.ReverseProxy.LoadBalancing;
using Yarp.ReverseProxy.Model;

namespace Flotilla.Tests.Proxy;

public sealed class LoadBalancingPolicyTests
{
    private static readonly HttpContext Context = new DefaultHttpContext();

    private static List<DestinationState> Destinations(params int[] inFlight) =>
        inFlight.Select((n, i) => new DestinationState($"t{i}") { ConcurrentRequestCount = n }).ToList();

    private static List<string> Pick(ILoadBalancingPolicy policy, ClusterState cluster, List<DestinationState> destinations, int times) =>
        Enumerable.Range(0, times).Select(_ => policy.PickDestination(Context, cluster, destinations)!.DestinationId).ToList();

    [Fact]
    public void Registration_EveryNameInTheSpec_HasExactlyOnePolicy()
    {
        using var provider = new ServiceCollection().AddFlotillaLoadBalancing().BuildServiceProvider();

        var names = provider.GetServices<ILoadBalancingPolicy>().Select(p => p.Name).Order().ToList();

        Assert.Equal(LoadBalancingNames.All.Order(), names);
    }

    [Fact]
    public void RoundRobin_Picks_EachTargetInTurn()
    {
        var picks = Pick(new RoundRobinPolicy(), new ClusterState("shop"), Destinations(0, 0, 0), 6);

        Assert.Equal(["t0", "t1", "t2", "t0", "t1", "t2"], picks);
    }

    [Fact]
    public void RoundRobin_TwoServicesInterleaved_EachStillRotatesThroughAllItsTargets()
    {
        var policy = new RoundRobinPolicy();
        var shop = new ClusterState("shop");
        var orders = new ClusterState("orders");
        var destinations = Destinations(0, 0);

        var shopPicks = new List<string>();
        for (var i = 0; i < 4; i++)
        {
            shopPicks.Add(policy.PickDestination(Context, shop, destinations)!.DestinationId);
            policy.PickDestination(Context, orders, destinations);
        }

        Assert.Equal(["t0", "t1", "t0", "t1"], shopPicks);
    }

    [Fact]
    public void AnyPolicy_NoTargets_PicksNone()
    {
        Assert.Null(new RoundRobinPolicy().PickDestination(Context, new ClusterState("c"), []));
        Assert.Null(new LeastRequestsPolicy().PickDestination(Context, new ClusterState("c"), []));
    }

    [Fact]
    public void LeastRequests_Picks_TheTargetWithFewestInFlight()
    {
        var picks = Pick(new LeastRequestsPolicy(), new ClusterState("shop"), Destinations(4, 1, 3), 5);

        Assert.All(picks, p => Assert.Equal("t1", p));
    }

    [Fact]
    public void LeastRequests_Ties_AreSpreadRoundRobin()
    {
        var picks = Pick(new LeastRequestsPolicy(), new ClusterState("shop"), Destinations(0, 0, 0), 30);

        Assert.All(picks.GroupBy(p => p), g => Assert.Equal(10, g.Count()));
    }

    [Fact]
    public void LeastRequests_TieAmongSomeTargets_NeverPicksABusierOne()
    {
        var picks = Pick(new LeastRequestsPolicy(), new ClusterState("shop"), Destinations(2, 1, 5, 1), 20);

        Assert.Equal(["t1", "t3"], picks.Distinct().Order());
    }
}
