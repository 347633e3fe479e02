using Flotilla.Proxy;
using System.Collections.Frozen;
using System.Collections.Immutable;
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
                Default = new FixedResponseAction(418, "teapot", "text/plain"),
                Rules =
                [
                    Rule(PathMatch.Parse("/api/orders/"), "orders"),
                    Rule(PathMatch.Everything, "orders") with { Host = "*.example.com" },
                    Rule(PathMatch.Everything, "shop") with { Host = "shop.test" },
                    Rule(new PathMatch(PathMatchKind.Exact, "/health"), "admin"),
                    Rule(PathMatch.Parse("/img/*.png"), "admin"),
                    Rule(PathMatch.Parse("/beta"), "admin") with { Headers = Values(("X-Canary", "true", "y*")) },
                    Rule(PathMatch.Parse("/write"), "admin") with { Methods = ["POST", "PUT"] },
                    Rule(PathMatch.Parse("/v"), "admin") with { Query = Values(("version", "2", null)) },
                    Rule(PathMatch.Parse("/late"), "admin") with { Priority = 5 },
                    Rule(PathMatch.Parse("/late"), "shop") with { Priority = 1 },
                    Rule(PathMatch.Parse("/shop"), "shop"),
                ],
            },
            new ListenerSpec { Name = "internal", Listen = new ListenAddress("127.0.0.1", 8081), Rules = [Rule(PathMatch.Everything, "admin")] },
        ],
    });

    private static RuleSpec Rule(PathMatch path, string service) => new() { Path = path, Action = ForwardAction.To(service) };

    private static ImmutableSortedDictionary<string, ImmutableArray<string>> Values(params (string Name, string Value1, string? Value2)[] entries) =>
        entries.ToImmutableSortedDictionary(e => e.Name, e => e.Value2 is null ? ImmutableArray.Create(e.Value1) : [e.Value1, e.Value2], StringComparer.OrdinalIgnoreCase);

    private static string? Route(string listener, string path, string host = "localhost", string method = "GET", string query = "", params (string Name, string Value)[] headers)
    {
        var context = new DefaultHttpContext();
        context.Request.Path = path;
        context.Request.Host = new HostString(host);
        context.Request.Method = method;
        context.Request.QueryString = new QueryString(query);
        foreach (var (name, value) in headers)
        {
            context.Request.Headers[name] = value;
        }

        return Router.Match(listener, new HttpRequestFields(context))?.Id;
    }

    [Theory]
    [InlineData("/api/orders", "web/rules[0]")]
    [InlineData("/api/orders/7", "web/rules[0]")]
    [InlineData("/api/ordersX", null)]
    [InlineData("/API/orders", null)]
    public void Match_PathPrefix_MatchesWholeSegmentsCaseSensitively(string path, string? expected) =>
        Assert.Equal(expected, Route("web", path));

    [Theory]
    [InlineData("/health", "web/rules[3]")]
    [InlineData("/health/deep", null)]
    [InlineData("/img/a/b.png", "web/rules[4]")]
    [InlineData("/img/a.jpg", null)]
    public void Match_ExactAndWildcardPaths_MatchAsWritten(string path, string? expected) =>
        Assert.Equal(expected, Route("web", path));

    [Theory]
    [InlineData("a.example.com", "web/rules[1]")]
    [InlineData("A.EXAMPLE.COM:8080", "web/rules[1]")]
    [InlineData("example.com", null)]
    [InlineData("shop.test", "web/rules[2]")]
    [InlineData("xshop.test", null)]
    public void Match_Host_MatchesExactOrWildcardIgnoringCaseAndPort(string host, string? expected) =>
        Assert.Equal(expected, Route("web", "/x", host));

    [Fact]
    public void Match_Header_NeedsOneOfItsValuesWithWildcardsIgnoringCase()
    {
        Assert.Equal("web/rules[5]", Route("web", "/beta", headers: ("X-Canary", "TRUE")));
        Assert.Equal("web/rules[5]", Route("web", "/beta", headers: ("x-canary", "yes")));
        Assert.Null(Route("web", "/beta", headers: ("X-Canary", "no")));
        Assert.Null(Route("web", "/beta"));
    }

    [Fact]
    public void Match_MethodsAndQuery_MustMatch()
    {
        Assert.Equal("web/rules[6]", Route("web", "/write", method: "PUT"));
        Assert.Null(Route("web", "/write", method: "GET"));
        Assert.Equal("web/rules[7]", Route("web", "/v", query: "?version=2&x=1"));
        Assert.Null(Route("web", "/v", query: "?version=1"));
    }

    [Fact]
    public void Match_Priorities_ComeFirstLowestFirst()
    {
        Assert.Equal("web/rules[9]", Route("web", "/late"));
        Assert.Equal("web/rules[9]", Route("web", "/late/x"));
    }

    [Fact]
    public void Match_PrioritizedRule_BeatsAnEarlierUnprioritizedOne()
    {
        var router = new Router(new FlotillaSpec
        {
            Services = [Fleets.Service("a"), Fleets.Service("b")],
            Listeners = [new ListenerSpec { Name = "web", Listen = new ListenAddress("127.0.0.1", 1), Rules = [Rule(PathMatch.Everything, "a"), Rule(PathMatch.Everything, "b") with { Priority = 100 }] }],
        });
        var context = new DefaultHttpContext();
        context.Request.Path = "/";

        Assert.Equal("web/rules[1]", router.Match("web", new HttpRequestFields(context))?.Id);
    }

    [Fact]
    public void Match_RulesOfAnotherListener_NeverMatch_AndTheDefaultActionIsTheListenersOwn()
    {
        Assert.Equal("internal/rules[0]", Route("internal", "/api/orders"));
        Assert.Null(Route("nope", "/"));
        Assert.Equal(418, Assert.IsType<FixedResponsePlan>(Router.Default("web")).Status);
        Assert.Equal(404, Assert.IsType<FixedResponsePlan>(Router.Default("internal")).Status);
    }

    [Theory]
    [InlineData("/img/*.png", "/img/x.png", true)]
    [InlineData("/img/*.png", "/img/x.pngx", false)]
    [InlineData("/a?c", "/abc", true)]
    [InlineData("/a?c", "/ac", false)]
    [InlineData("*", "", true)]
    [InlineData("/x/**", "/x/", true)]
    public void Wildcard_Pattern_MatchesAsAGlob(string pattern, string text, bool expected) =>
        Assert.Equal(expected, Wildcard.IsMatch(text, pattern, StringComparison.Ordinal));

    [Fact]
    public void ForwardPlan_Weights_SplitRequestsInProportion()
    {
        var services = new[] { Fleets.Service("shop"), Fleets.Service("canary") }.ToDictionary(s => s.Name).ToFrozenDictionary();
        var plan = new ForwardPlan(new ForwardAction([new WeightedService("shop", 90), new WeightedService("canary", 10)]), null, services);
        var random = new Random(7);

        var canary = Enumerable.Range(0, 10_000).Count(_ => plan.Choose(random).Service == "canary");

        Assert.InRange(canary, 900, 1100);
    }

    [Fact]
    public void ForwardPlan_Timeout_IsTheRulesElseTheServices()
    {
        var services = new[] { Fleets.Service("shop") with { Timeout = TimeSpan.FromSeconds(7) } }.ToDictionary(s => s.Name).ToFrozenDictionary();

        Assert.Equal(TimeSpan.FromSeconds(7), new ForwardPlan(ForwardAction.To("shop"), null, services).Choose(new Random(1)).Config.ActivityTimeout);
        Assert.Equal(TimeSpan.FromSeconds(2), new ForwardPlan(ForwardAction.To("shop"), TimeSpan.FromSeconds(2), services).Choose(new Random(1)).Config.ActivityTimeout);
    }
}
