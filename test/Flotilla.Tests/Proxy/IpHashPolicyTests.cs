using System.Net;
using Flotilla.Proxy;
using Flotilla.Proxy.LoadBalancing;
using Microsoft.AspNetCore.Http;

namespace Flotilla.Tests.Proxy;

public sealed class IpHashPolicyTests
{
    private static HttpRequestFields Fields(string ip) => new(From(ip));

    private static HttpContext From(string ip) => new DefaultHttpContext { Connection = { RemoteIpAddress = IPAddress.Parse(ip) } };

    [Fact]
    public void Pick_SameClientIp_SameTargetEveryTime()
    {
        var targets = Targets.Idle(Targets.Time(), 4);
        var policy = new IpHashPolicy();

        var picks = Enumerable.Range(0, 20).Select(_ => policy.Pick(Fields("203.0.113.7"), targets, 0).TaskId).Distinct();

        Assert.Single(picks);
    }

    [Fact]
    public void Pick_ThousandDistinctIps_SpreadEvenlyAcrossFourTargets()
    {
        var targets = Targets.Idle(Targets.Time(), 4);
        var policy = new IpHashPolicy();

        var picks = Enumerable.Range(0, 1000).Select(i => policy.Pick(Fields($"10.{i / 256}.{i % 256}.1"), targets, 0).TaskId);

        Assert.All(Picks.Counts(targets, picks), c => Assert.InRange(c, 250 - 40, 250 + 40));
    }

    [Fact]
    public void Pick_IPv4MappedToIPv6_SameTargetAsIPv4()
    {
        var targets = Targets.Idle(Targets.Time(), 7);
        var policy = new IpHashPolicy();

        Assert.All(Enumerable.Range(1, 50), i => Assert.Equal(
            policy.Pick(Fields($"192.0.2.{i}"), targets, 0),
            policy.Pick(Fields($"::ffff:192.0.2.{i}"), targets, 0)));
    }

    [Fact]
    public void Pick_ForwardedClientAddress_IsWhatIsHashed()
    {
        var targets = Targets.Idle(Targets.Time(), 7);
        var policy = new IpHashPolicy();

        Assert.All(Enumerable.Range(1, 50), i =>
        {
            var viaTrustedProxy = From("127.0.0.1");
            viaTrustedProxy.Features.Set<IClientAddressFeature>(new ClientAddress(IPAddress.Parse($"198.51.100.{i}")));
            Assert.Equal(policy.Pick(Fields($"198.51.100.{i}"), targets, 0), policy.Pick(new HttpRequestFields(viaTrustedProxy), targets, 0));
        });
    }

    private sealed class ClientAddress(IPAddress address) : IClientAddressFeature
    {
        public IPAddress Address { get; } = address;
    }
}
