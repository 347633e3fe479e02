using System.Net;

namespace Flotilla.Proxy;

/// <summary>What the load balancer knows about a request beyond its HTTP fields.</summary>
internal static class RequestInfo
{
    /// <summary>
    /// The client's address: the connection's peer, or, when the peer is a trusted proxy, the address it forwarded
    /// for (set by the forwarding middleware as an <see cref="IClientAddressFeature"/>).
    /// </summary>
    public static IPAddress ClientAddress(HttpContext context) =>
        context.Features.Get<IClientAddressFeature>()?.Address ?? context.Connection.RemoteIpAddress ?? IPAddress.None;
}

/// <summary>The client address the load balancer settled on for a request, after trusted X-Forwarded-For.</summary>
internal interface IClientAddressFeature
{
    IPAddress Address { get; }
}
