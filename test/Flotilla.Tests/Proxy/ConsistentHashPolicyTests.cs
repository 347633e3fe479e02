using Flotilla.Proxy;
using System.Net;
using Flotilla.Core.Spec;
using Flotilla.Proxy.LoadBalancing;
using Flotilla.Proxy.Targets;
using Microsoft.AspNetCore.Http;

namespace Flotilla.Tests.Proxy;

public sealed class ConsistentHashPolicyTests
{
    private const string UserHeader = "X-User";

    private static readonly string[] Keys = Enumerable.Range(0, 10_000).Select(i => $"user-{i}").ToArray();

    private static ConsistentHashPolicy OnHeader(double? boundedLoad = null) =>
        new(new LoadBalancingSpec { Algorithm = "consistent_hash", HashOn = "header:" + UserHeader, BoundedLoad = boundedLoad });

    private static HttpRequestFields Request(string? user = null, string ip = "203.0.113.7", string? cookie = null)
    {
        var context = new DefaultHttpContext { Connection = { RemoteIpAddress = IPAddress.Parse(ip) } };
        if (user is not null)
        {
            context.Request.Headers[UserHeader] = user;
        }

        if (cookie is not null)
        {
            context.Request.Headers.Cookie = cookie;
        }

        return new HttpRequestFields(context);
    }

    private static Dictionary<string, string> Placement(ILoadBalancingPolicy policy, TargetSet targets) =>
        Keys.ToDictionary(key => key, key => policy.Pick(Request(key), targets, 0).TaskId);

    [Fact]
    public void Pick_SameKey_SameTargetEveryTime()
    {
        var targets = Targets.Idle(Targets.Time(), 4);
        var policy = OnHeader();

        Assert.All(Keys.Take(100), key =>
            Assert.Single(Enumerable.Range(1, 5).Select(i => policy.Pick(Request(key, ip: $"10.0.0.{i}"), targets, 0)).Distinct()));
    }

    [Fact]
    public void Pick_TenThousandKeys_SpreadAcrossTargets()
    {
        var targets = Targets.Idle(Targets.Time(), 4);

        var counts = Picks.Counts(targets, Placement(OnHeader(), targets).Values);

        // 160 points per target leave each target's arc within about ±20% of a quarter (Envoy's ring_hash trade-off).
        Assert.All(counts, c => Assert.InRange(c, 2500 * 0.75, 2500 * 1.25));
    }

    [Fact]
    public void Pick_FifthTargetAddedToFour_MovesAtMostThirtyPercentOfKeysAllToIt()
    {
        var time = Targets.Time();
        var four = Targets.Idle(time, 4);
        var five = Targets.Set([.. four.Targets, Targets.New("t4", time)]);
        var policy = OnHeader();

        var before = Placement(policy, four);
        var after = Placement(policy, five);

        var moved = Keys.Where(key => before[key] != after[key]).ToList();
        Assert.InRange(moved.Count, 1, 3000);
        Assert.All(moved, key => Assert.Equal("t4", after[key]));
    }

    [Fact]
    public void Pick_TargetRemoved_MovesOnlyTheKeysThatWereOnIt()
    {
        var time = Targets.Time();
        var four = Targets.Idle(time, 4);
        var three = Targets.Set(four[0], four[1], four[3]);
        var policy = OnHeader();

        var before = Placement(policy, four);
        var after = Placement(policy, three);

        Assert.All(Keys, key => Assert.True(before[key] == "t2" || before[key] == after[key], $"{key} moved from {before[key]} to {after[key]}"));
        Assert.DoesNotContain("t2", after.Values);
    }

    [Fact]
    public void Pick_HeaderMissing_FallsBackToClientIp()
    {
        var targets = Targets.Idle(Targets.Time(), 5);
        var onIp = new ConsistentHashPolicy(new LoadBalancingSpec { Algorithm = "consistent_hash" });
        var onHeader = OnHeader();

        Assert.All(Enumerable.Range(1, 50), i =>
            Assert.Equal(onIp.Pick(Request(ip: $"192.0.2.{i}"), targets, 0), onHeader.Pick(Request(ip: $"192.0.2.{i}"), targets, 0)));
    }

    [Fact]
    public void Pick_HashOnClientIp_SameIpSameTarget()
    {
        var targets = Targets.Idle(Targets.Time(), 5);
        var policy = new ConsistentHashPolicy(new LoadBalancingSpec { Algorithm = "consistent_hash" });

        var byIp = Enumerable.Range(1, 50).Select(i => $"192.0.2.{i}").ToList();

        Assert.All(byIp, ip => Assert.Equal(policy.Pick(Request("a", ip), targets, 0), policy.Pick(Request("b", ip), targets, 0)));
        Assert.True(byIp.Select(ip => policy.Pick(Request(ip: ip), targets, 0)).Distinct().Count() > 1);
    }

    [Fact]
    public void Pick_HashOnCookie_KeysOnTheCookieValue()
    {
        var targets = Targets.Idle(Targets.Time(), 5);
        var policy = new ConsistentHashPolicy(new LoadBalancingSpec { Algorithm = "consistent_hash", HashOn = "cookie:session" });

        var sessions = Enumerable.Range(0, 50).Select(i => $"s{i}").ToList();

        Assert.All(sessions, s => Assert.Equal(
            policy.Pick(Request(ip: "192.0.2.1", cookie: $"theme=dark; session={s}"), targets, 0),
            policy.Pick(Request(ip: "198.51.100.9", cookie: $"session={s}"), targets, 0)));
        Assert.True(sessions.Select(s => policy.Pick(Request(cookie: $"session={s}"), targets, 0)).Distinct().Count() > 1);
    }

    [Fact]
    public void Pick_BoundedLoad_HashedTargetOverTheBound_GoesToTheNextTargetOnTheRing()
    {
        var time = Targets.Time();
        var targets = Targets.Idle(time, 4);
        var hashed = OnHeader().Pick(Request("alice"), targets, 0);
        var others = Targets.Set([.. targets.Targets.Remove(hashed)]);
        var nextOnRing = OnHeader().Pick(Request("alice"), others, 0);

        // 6 in flight: the bound for the next request is ceil(1.25 × 7 / 4) = 3, and the hashed target would be at 7.
        Targets.Start(hashed, 6);
        var bounded = OnHeader(boundedLoad: 1.25).Pick(Request("alice"), targets, 0);

        Assert.Equal(nextOnRing, bounded);
    }

    [Fact]
    public void Pick_BoundedLoad_HashedTargetUnderTheBound_KeepsTheKey()
    {
        var targets = Targets.WithInFlight(Targets.Time(), 2, 2, 2, 2);

        Assert.All(Keys.Take(100), key => Assert.Equal(OnHeader().Pick(Request(key), targets, 0), OnHeader(boundedLoad: 1.25).Pick(Request(key), targets, 0)));
    }

    [Fact]
    public void Pick_BoundedLoad_HotKey_NoTargetEverExceedsTheBound()
    {
        var targets = Targets.Idle(Targets.Time(), 4);
        var policy = OnHeader(boundedLoad: 1.25);

        for (var total = 1; total <= 1000; total++)
        {
            // Nine requests in ten carry the same key.
            policy.Pick(Request(total % 10 == 0 ? Keys[total] : "hot"), targets, 0).RequestStarted(0);

            var bound = Math.Ceiling(1.25 * total / 4);
            Assert.All(targets.Targets, t => Assert.True(t.InFlight <= bound, $"{t.TaskId} has {t.InFlight} in flight over the bound {bound} at {total}"));
        }

        Assert.All(targets.Targets, t => Assert.True(t.InFlight > 0));
    }
}
