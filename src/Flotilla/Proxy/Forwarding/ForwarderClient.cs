using System.Diagnostics;
using System.Net;
using Yarp.ReverseProxy.Forwarder;

namespace Flotilla.Proxy.Forwarding;

/// <summary>
/// The one HTTP client the load balancer forwards with: pooled keep-alive connections to every task, no proxy, no
/// redirects, no cookies, no decompression (the response goes back as the task sent it). Its propagator replaces any
/// incoming trace headers with the current activity's, so each hop carries its own span.
/// </summary>
internal sealed class ForwarderClient : IDisposable
{
    public HttpMessageInvoker Invoker { get; } = new(new SocketsHttpHandler
    {
        UseProxy = false,
        AllowAutoRedirect = false,
        AutomaticDecompression = DecompressionMethods.None,
        UseCookies = false,
        EnableMultipleHttp2Connections = true,
        ActivityHeadersPropagator = new ReverseProxyPropagator(DistributedContextPropagator.Current),
        ConnectTimeout = TimeSpan.FromSeconds(5),
    });

    public void Dispose() => Invoker.Dispose();
}
