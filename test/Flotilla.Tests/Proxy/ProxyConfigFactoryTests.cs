using Flotilla.Core.Fleet;
using Flotilla.Core.Spec;
using Flotilla.Proxy;
using Flotilla.Tests.Scheduling;

namespace Flotilla.Tests.Proxy;

public sealed class ProxyConfigFactoryTests
{
    [Fact]
    public void Routes_Rules_BecomeOrderedSegmentPrefixRoutesTaggedWithTheirListener()
    {
        var spec = new FlotillaSpec
        {
            Services = [Fleets.Service("shop"), Fleets.Service("orders")],
            Listeners =
            [
                new ListenerSpec
                {
                    Name = "web",
                    Listen = new ListenAddress("127.0.0.1", 8080),
                    Rules =
                    [
                        new RuleSpec { Path = "/api/orders/", Service = "orders" },
                        new RuleSpec { Host = "*.example.com", Service = "orders" },
                        new RuleSpec { Service = "shop" },
                    ],
                },
                new ListenerSpec { Name = "admin-web", Listen = new ListenAddress("127.0.0.1", 8081), Rules = [new RuleSpec { Service = "shop" }] },
            ],
        };

        var routes = ProxyConfigFactory.Routes(spec);

        Assert.Equal(["web/rules[0]", "web/rules[1]", "web/rules[2]", "admin-web/rules[0]"], routes.Select(r => r.RouteId));
        Assert.Equal(["/api/orders/{**rest}", "/{**rest}", "/{**rest}", "/{**rest}"], routes.Select(r => r.Match.Path));
        Assert.Equal([0, 1, 2, 0], routes.Select(r => r.Order!.Value));
        Assert.Equal(["*.example.com"], routes[1].Match.Hosts!);
        Assert.Null(routes[0].Match.Hosts);
        Assert.Equal(["web", "web", "web", "admin-web"], routes.Select(r => r.Metadata![ListenerMatcherPolicy.MetadataKey]));
        Assert.Equal(["orders", "orders", "shop", "shop"], routes.Select(r => r.ClusterId));
    }

    [Fact]
    public void Clusters_OnlyRunningHealthyTasks_AreDestinations()
    {
        var fleet = new Fleets(Fleets.Service("shop") with { LoadBalancing = "least_requests" });
        var healthy = fleet.StartHealthy();
        fleet.Start();
        var stopping = fleet.StartHealthy();
        fleet.State = fleet.State.StopRequested(stopping, StopReasons.ScaleIn, fleet.Now, fleet.Events);

        var cluster = Assert.Single(ProxyConfigFactory.Clusters(fleet.State));

        Assert.Equal("shop", cluster.ClusterId);
        Assert.Equal("least_requests", cluster.LoadBalancingPolicy);
        var destination = Assert.Single(cluster.Destinations!);
        Assert.Equal(healthy, destination.Key);
        Assert.Equal($"http://127.0.0.1:{fleet.Task(healthy).Port}", destination.Value.Address);
    }

    [Fact]
    public void TargetsKey_ChangesOnlyWhenTheInServiceTasksChange()
    {
        var fleet = new Fleets(Fleets.Service("shop"));
        var before = ProxyConfigFactory.TargetsKey(fleet.State);
        var id = fleet.Start();
        var started = ProxyConfigFactory.TargetsKey(fleet.State);
        fleet.Check(id, true);
        fleet.Check(id, true);
        var healthy = ProxyConfigFactory.TargetsKey(fleet.State);

        Assert.Equal(before, started);
        Assert.NotEqual(started, healthy);
    }
}
