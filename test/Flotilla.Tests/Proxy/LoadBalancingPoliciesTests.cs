using Flotilla.Core.LoadBalancing;
using Flotilla.Core.Spec;
using Flotilla.Proxy.LoadBalancing;

namespace Flotilla.Tests.Proxy;

public sealed class LoadBalancingPoliciesTests
{
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
}
