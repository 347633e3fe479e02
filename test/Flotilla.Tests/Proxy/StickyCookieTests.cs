using Flotilla.Core.Events;
using Flotilla.Core.Spec;
using Flotilla.Proxy;
using Flotilla.Proxy.Forwarding;
using Flotilla.Proxy.Targets;
using Flotilla.Tests.Scheduling;
using Microsoft.AspNetCore.Http;
using Microsoft.Net.Http.Headers;

namespace Flotilla.Tests.Proxy;

/// <summary>Sticky sessions as both paths of the load balancer pick them: the pin honoured, moved, and never forged.</summary>
public sealed class StickyCookieTests
{
    private readonly StickyCookie _sticky = new();
    private readonly Fleets _fleet;
    private readonly TargetGroup _group;
    private readonly string[] _tasks;

    public StickyCookieTests()
    {
        var spec = Fleets.Service() with
        {
            LoadBalancing = new LoadBalancingSpec(),
            PanicThreshold = 0,
            Stickiness = new StickinessSpec { Cookie = "PIN", Ttl = TimeSpan.FromMinutes(10) },
        };
        _fleet = new Fleets(spec);
        _group = new TargetGroup(spec, _fleet.Time, new Random(1), new EventLog());
        _tasks = [_fleet.StartHealthy(), _fleet.StartHealthy(), _fleet.StartHealthy()];
        _fleet.Advance(TimeSpan.FromSeconds(10));
        _group.Update(_fleet.Tasks());
    }

    private static HttpRequestFields Request(string? cookie = null)
    {
        var context = new DefaultHttpContext();
        if (cookie is not null)
        {
            context.Request.Headers.Cookie = cookie;
        }

        return new HttpRequestFields(context);
    }

    /// <summary>The cookie a client sends back after a response with <paramref name="setCookie"/>.</summary>
    private static string CookieOf(string setCookie)
    {
        var header = SetCookieHeaderValue.Parse(setCookie);
        return $"{header.Name}={header.Value}";
    }

    [Fact]
    public void NoCookie_ThePickIsPinned_WithTheCookiesAttributes()
    {
        var target = _sticky.Pick(_group, Request(), "http", out var setCookie);

        Assert.NotNull(target);
        var header = SetCookieHeaderValue.Parse(setCookie);
        Assert.Equal("PIN", header.Name.ToString());
        Assert.StartsWith(target.TaskId + ".", Uri.UnescapeDataString(header.Value.ToString()));
        Assert.Equal(TimeSpan.FromMinutes(10), header.MaxAge);
        Assert.Equal("/", header.Path.ToString());
        Assert.Equal(Microsoft.Net.Http.Headers.SameSiteMode.Lax, header.SameSite);
        Assert.True(header.HttpOnly);
        Assert.False(header.Secure);
        _sticky.Pick(_group, Request(), "https", out var overTls);
        Assert.True(SetCookieHeaderValue.Parse(overTls).Secure);
    }

    [Fact]
    public void ItsCookie_KeepsTheClientOnItsTask_WithoutSettingItAgain()
    {
        var first = _sticky.Pick(_group, Request(), "http", out var setCookie);
        var cookie = CookieOf(setCookie!) + "; other=1";

        var later = Enumerable.Range(0, 12).Select(_ => (Target: _sticky.Pick(_group, Request(cookie), "http", out var again), Again: again)).ToList();

        Assert.All(later, pick => Assert.Equal(first!.TaskId, pick.Target?.TaskId));
        Assert.All(later, pick => Assert.Null(pick.Again));
    }

    [Fact]
    public void PinnedTaskNoLongerEligible_TheClientMoves_AndItsCookieIsRewritten()
    {
        var first = _sticky.Pick(_group, Request(), "http", out var setCookie);
        var cookie = CookieOf(setCookie!);
        for (var i = 0; i < 3; i++)
        {
            _fleet.Check(first!.TaskId, false);
        }

        _group.Update(_fleet.Tasks());
        var moved = _sticky.Pick(_group, Request(cookie), "http", out var rewritten);
        var after = _sticky.Pick(_group, Request(CookieOf(rewritten!)), "http", out var again);

        Assert.NotEqual(first!.TaskId, moved?.TaskId);
        Assert.StartsWith(moved!.TaskId + ".", Uri.UnescapeDataString(SetCookieHeaderValue.Parse(rewritten).Value.ToString()));
        Assert.Equal(moved.TaskId, after?.TaskId);
        Assert.Null(again);
    }

    [Fact]
    public void ForgedOrForeignCookie_IsNotHonoured_AndIsRewritten()
    {
        new StickyCookie().Pick(_group, Request(), "http", out var foreign);
        var picks = new[] { $"PIN={_tasks[1]}.AAAAAAAAAAAAAAAA", $"PIN={_tasks[1]}", CookieOf(foreign!) }
            .Select(cookie => _sticky.Pick(_group, Request(cookie), "http", out var setCookie) is { } target ? (target.TaskId, setCookie) : default)
            .ToList();

        Assert.All(picks, pick => Assert.StartsWith(pick.TaskId + ".", Uri.UnescapeDataString(SetCookieHeaderValue.Parse(pick.setCookie).Value.ToString())));
    }

    [Fact]
    public void ServiceWithoutStickiness_PicksByItsAlgorithm_AndSetsNoCookie()
    {
        var spec = Fleets.Service() with { LoadBalancing = new LoadBalancingSpec() };
        var group = new TargetGroup(spec, _fleet.Time, new Random(1), new EventLog());
        group.Update(_fleet.Tasks());

        var picked = Enumerable.Range(0, 6).Select(_ => _sticky.Pick(group, Request("PIN=x"), "http", out var setCookie) is { } t && setCookie is null ? t.TaskId : null).ToList();

        Assert.Equal(3, picked.Distinct().Count());
        Assert.DoesNotContain(null, picked);
    }
}
