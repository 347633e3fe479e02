using System.Globalization;
using System.Net;
using Flotilla.Core.Fleet;
using Flotilla.Core.Spec;
using Yarp.ReverseProxy.Configuration;
using Yarp.ReverseProxy.Forwarder;

namespace Flotilla.Proxy;

/// <summary>Translates the spec's listeners and the fleet's healthy tasks into YARP routes and clusters.</summary>
internal static class ProxyConfigFactory
{
    /// <summary>
    /// One route per rule, ordered as written (YARP's <c>Order</c> beats route-template precedence), tagged with its
    /// listener for <see cref="ListenerMatcherPolicy"/>. A path prefix matches on whole segments.
    /// </summary>
    public static IReadOnlyList<RouteConfig> Routes(FlotillaSpec spec) =>
        spec.Listeners.SelectMany(listener => listener.Rules.Select((rule, index) => new RouteConfig
        {
            RouteId = $"{listener.Name}/rules[{index}]",
            ClusterId = rule.Service,
            Order = index,
            Match = new RouteMatch
            {
                Path = rule.Path.TrimEnd('/') + "/{**rest}",
                Hosts = rule.Host is null ? null : [rule.Host],
            },
            Metadata = new Dictionary<string, string> { [ListenerMatcherPolicy.MetadataKey] = listener.Name },
        })).ToList();

    /// <summary>One cluster per service, whose destinations are its tasks in service (running and healthy).</summary>
    public static IReadOnlyList<ClusterConfig> Clusters(FleetState state) =>
        state.OrderedServices.Select(service => new ClusterConfig
        {
            ClusterId = service.Name,
            LoadBalancingPolicy = service.Spec.LoadBalancing,
            HttpRequest = new ForwarderRequestConfig { Version = HttpVersion.Version11, VersionPolicy = HttpVersionPolicy.RequestVersionExact },
            Destinations = state.TasksOf(service.Name)
                .Where(t => t.IsInService)
                .ToDictionary(t => t.Id, t => new DestinationConfig { Address = "http://127.0.0.1:" + t.Port.ToString(CultureInfo.InvariantCulture) }),
        }).ToList();

    /// <summary>What decides the clusters: each service's in-service task ids and ports. Equal keys, equal clusters.</summary>
    public static string TargetsKey(FleetState state) =>
        string.Join(';', state.OrderedServices.Select(s =>
            s.Name + "=" + string.Join(',', state.TasksOf(s.Name).Where(t => t.IsInService).OrderBy(t => t.Sequence).Select(t => $"{t.Id}@{t.Port}"))));
}
