using Yarp.ReverseProxy.LoadBalancing;

namespace Flotilla.Proxy.LoadBalancing;

/// <summary>
/// Registers one YARP <see cref="ILoadBalancingPolicy"/> per name in <see cref="Core.LoadBalancing.LoadBalancingNames"/>;
/// YARP looks them up by the cluster's <c>LoadBalancingPolicy</c>, which is the service's <c>loadBalancing</c>.
/// </summary>
internal static class LoadBalancingRegistration
{
    public static IServiceCollection AddFlotillaLoadBalancing(this IServiceCollection services) => services
        .AddSingleton<ILoadBalancingPolicy, RoundRobinPolicy>()
        .AddSingleton<ILoadBalancingPolicy, LeastRequestsPolicy>();
}
