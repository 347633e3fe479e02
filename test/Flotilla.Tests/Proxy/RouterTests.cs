using Flotilla.Core.Spec;
using Flotilla.Proxy.Routing;
using Flotilla.Tests.Scheduling;
using Microsoft.AspNetCore.Http;

namespace Flotilla.Tests.Proxy;

public sealed class RouterTests
{
    private static readonly Router Router = new(new FlotillaSpec
    {
        Services = [Fleets.Service("shop"), Fleets.Service("orders"), Fleets.Service("admin")],
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
                    new RuleSpec { Host = "shop.test", Service = "shop" },
                    new RuleSpec { Service = "shop" },
                ],
            },
            new ListenerSpec { Name = "internal", Listen = new ListenAddress("127.0.0.1", 8081), Rules = [new RuleSpec { Service = "admin" }] },
        ],
    });

    private static string? Route(string listener, string path, string host = "localhost")
    {
        var context = new DefaultHttpContext();
        context.Request.Path = path;
        context.Request.Host = new HostString(host);
        return Router.Match(listener, context.Request)?.Id;
    }

    [Theory]
    [InlineData("/api/orders", "web/rules[0]")]
    [InlineData("/api/orders/7", "web/rules[0]")]
    [InlineData("/api/ordersX", "web/rules[3]")]
    [InlineData("/API/orders", "web/rules[3]")]
    [InlineData("/", "web/rules[3]")]
    public void Match_PathPrefix_MatchesWholeSegmentsCaseSensitively(string path, string expected) =>
        Assert.Equal(expected, Route("web", path));

    [Theory]
    [InlineData("a.example.com", "web/rules[1]")]
    [InlineData("A.EXAMPLE.COM:8080", "web/rules[1]")]
    [InlineData("example.com", "web/rules[3]")]
    [InlineData("shop.test", "web/rules[2]")]
    [InlineData("xshop.test", "web/rules[3]")]
    public void Match_Host_MatchesExactOrWildcardIgnoringCaseAndPort(string host, string expected) =>
        Assert.Equal(expected, Route("web", "/x", host));

    [Fact]
    public void Match_RulesOfAnotherListener_NeverMatch()
    {
        Assert.Equal("internal/rules[0]", Route("internal", "/api/orders"));
        Assert.Null(Route("nope", "/"));
    }
}
