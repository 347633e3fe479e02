using System.Collections.Frozen;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using Flotilla.Proxy.Routing;
using Flotilla.Proxy.Targets;
using Flotilla.Telemetry;
using Yarp.ReverseProxy.Forwarder;

namespace Flotilla.Proxy;

/// <summary>
/// The load balancer's request path: find the listener's first matching rule, pick a target of its service, forward
/// with YARP's <see cref="IHttpForwarder"/>, and account for the request (in flight, latency, metrics).
/// </summary>
internal sealed class ProxyMiddleware
{
    private static readonly ForwarderRequestConfig RequestConfig = new()
    {
        Version = HttpVersion.Version11,
        VersionPolicy = HttpVersionPolicy.RequestVersionOrLower,
    };

    private readonly Router _router;
    private readonly TargetGroups _groups;
    private readonly IHttpForwarder _forwarder;
    private readonly HttpMessageInvoker _client;
    private readonly FlotillaMetrics _metrics;
    private readonly TimeProvider _time;
    private readonly FrozenDictionary<string, string> _retryAfter;

    public ProxyMiddleware(RequestDelegate next, Router router, TargetGroups groups, IHttpForwarder forwarder, ForwarderClient client, FlotillaMetrics metrics, TimeProvider time)
    {
        _ = next;
        _router = router;
        _groups = groups;
        _forwarder = forwarder;
        _client = client.Invoker;
        _metrics = metrics;
        _time = time;

        // Retry-After on a 503 is the service's health-check interval: the soonest a task could come back.
        _retryAfter = groups.ByService.ToFrozenDictionary(
            kv => kv.Key,
            kv => Math.Max(1, (int)Math.Ceiling(kv.Value.Service.Health.Interval.TotalSeconds)).ToString(CultureInfo.InvariantCulture));
    }

    public async Task InvokeAsync(HttpContext context)
    {
        var start = Stopwatch.GetTimestamp();
        var listener = Listeners.Of(context);
        var rule = _router.Match(listener, context.Request);
        if (rule is null)
        {
            context.Response.StatusCode = StatusCodes.Status404NotFound;
            _metrics.RecordRequest(listener, "", StatusCodes.Status404NotFound, start);
            return;
        }

        var service = rule.Spec.Service;
        var target = _groups.ByService[service].Pick(context);
        if (target is null)
        {
            context.Response.StatusCode = StatusCodes.Status503ServiceUnavailable;
            context.Response.Headers.RetryAfter = _retryAfter[service];
            context.Response.ContentType = "text/plain; charset=utf-8";
            await context.Response.WriteAsync($"no healthy targets for service {service}\n");
            _metrics.RecordRequest(listener, service, StatusCodes.Status503ServiceUnavailable, start);
            return;
        }

        target.RequestStarted();
        try
        {
            await _forwarder.SendAsync(context, target.Address, _client, RequestConfig, HttpTransformer.Default);
        }
        finally
        {
            target.RequestEnded();
            target.ObserveLatency(Stopwatch.GetElapsedTime(start).TotalMilliseconds, _time.GetTimestamp());
            _metrics.RecordRequest(listener, service, context.Response.StatusCode, start);
        }
    }
}

/// <summary>
/// The one HTTP client the load balancer forwards with: pooled keep-alive connections to every task, no proxy,
/// no redirects, no cookies, no decompression (the response goes back as the task sent it).
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
