using Flotilla.Proxy.Targets;

namespace Flotilla.Proxy.LoadBalancing;

/// <summary>
/// One load-balancing algorithm. Each service gets its own instance (so an instance may keep per-service state: a
/// rotating counter, a hash ring), made by <see cref="LoadBalancingPolicies.Create"/> from the service's spec.
/// </summary>
/// <remarks>
/// Not YARP's <c>ILoadBalancingPolicy</c>: that one picks among YARP's <c>DestinationState</c>s, which know nothing of
/// weights, slow start or latency. Flotilla forwards with YARP's <c>IHttpForwarder</c> and picks among its own
/// <see cref="Target"/>s; the shape is otherwise the same.
/// </remarks>
internal interface ILoadBalancingPolicy
{
    /// <summary>The name the spec uses (<see cref="Core.LoadBalancing.LoadBalancingNames"/>).</summary>
    string Name { get; }

    /// <summary>Picks the target for this request.</summary>
    /// <param name="request">The request, for algorithms that hash on it (client IP, a header, a cookie).</param>
    /// <param name="targets">Every eligible target; never empty.</param>
    /// <param name="timestamp">Now, as a <see cref="TimeProvider"/> timestamp, for slow start and latency decay.</param>
    Target Pick(IRequestFields request, TargetSet targets, long timestamp);
}
