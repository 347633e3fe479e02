using Flotilla.Core.LoadBalancing;
using Yarp.ReverseProxy.LoadBalancing;
using Yarp.ReverseProxy.Model;

namespace Flotilla.Proxy.LoadBalancing;

/// <summary><c>round_robin</c>: each healthy task in turn.</summary>
internal sealed class RoundRobinPolicy : ILoadBalancingPolicy
{
    private readonly PerClusterCounter _counter = new();

    public string Name => LoadBalancingNames.RoundRobin;

    public DestinationState? PickDestination(HttpContext context, ClusterState cluster, IReadOnlyList<DestinationState> availableDestinations) =>
        availableDestinations.Count switch
        {
            0 => null,
            1 => availableDestinations[0],
            var n => availableDestinations[_counter.Next(cluster, n)],
        };
}
