using System.Net;

namespace Flotilla.Proxy.Forwarding;

/// <summary>
/// The one HTTP client the load balancer forwards with: pooled keep-alive connections to every task, no proxy, no
/// redirects, no cookies, no decompression (the response goes back as the task sent it), and no activity propagation:
/// <see cref="ForwardingTransformer"/> writes the trace headers, which spares each request the diagnostics handler.
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
        ActivityHeadersPropagator = null,
        ConnectTimeout = TimeSpan.FromSeconds(5),
    });

    public void Dispose() => Invoker.Dispose();
}
