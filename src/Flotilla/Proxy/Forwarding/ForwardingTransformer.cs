using Microsoft.AspNetCore.Http.Features;
using Yarp.ReverseProxy.Forwarder;

namespace Flotilla.Proxy.Forwarding;

/// <summary>
/// What Flotilla adds to YARP's copy of a request and its response: the client's Host, X-Forwarded-For/-Proto/-Host
/// (extended from a trusted proxy, replaced from anyone else), X-Request-Id both ways, and the load balancer's span in
/// <c>traceparent</c> (the client's <c>tracestate</c> kept).
/// </summary>
internal sealed class ForwardingTransformer : HttpTransformer
{
    public const string RequestIdHeader = "X-Request-Id";

    public static ForwardingTransformer Instance { get; } = new();

    public override async ValueTask TransformRequestAsync(HttpContext httpContext, HttpRequestMessage proxyRequest, string destinationPrefix, CancellationToken cancellationToken)
    {
        await base.TransformRequestAsync(httpContext, proxyRequest, destinationPrefix, cancellationToken);

        // ALB passes the client's Host to targets (YARP's default would send the task's address): tasks build links with it.
        proxyRequest.Headers.Host = httpContext.Request.Host.Value;
        var request = httpContext.Features.GetRequiredFeature<ProxyRequest>();
        var headers = proxyRequest.Headers;
        var incoming = httpContext.Request.Headers;
        var peer = httpContext.Connection.RemoteIpAddress?.ToString() ?? "";

        headers.Remove("X-Forwarded-For");
        headers.Remove("X-Forwarded-Proto");
        headers.Remove("X-Forwarded-Host");
        headers.Remove(RequestIdHeader);
        headers.Remove(TraceContext.ParentHeader);
        headers.Remove(TraceContext.StateHeader);
        headers.TryAddWithoutValidation(TraceContext.ParentHeader, request.Trace.ToTraceParent());
        if (request.Trace.TraceState is { Length: > 0 } state)
        {
            headers.TryAddWithoutValidation(TraceContext.StateHeader, state);
        }

        if (request.FromTrustedProxy)
        {
            var chain = incoming["X-Forwarded-For"].ToString();
            headers.TryAddWithoutValidation("X-Forwarded-For", chain.Length == 0 ? peer : $"{chain}, {peer}");
            headers.TryAddWithoutValidation("X-Forwarded-Proto", incoming["X-Forwarded-Proto"] is { Count: > 0 } proto ? proto.ToString() : request.Scheme);
            headers.TryAddWithoutValidation("X-Forwarded-Host", incoming["X-Forwarded-Host"] is { Count: > 0 } host ? host.ToString() : httpContext.Request.Host.Value);
        }
        else
        {
            headers.TryAddWithoutValidation("X-Forwarded-For", peer);
            headers.TryAddWithoutValidation("X-Forwarded-Proto", request.Scheme);
            headers.TryAddWithoutValidation("X-Forwarded-Host", httpContext.Request.Host.Value);
        }

        headers.TryAddWithoutValidation(RequestIdHeader, request.RequestId);
    }

    public override async ValueTask<bool> TransformResponseAsync(HttpContext httpContext, HttpResponseMessage? proxyResponse, CancellationToken cancellationToken)
    {
        var proceed = await base.TransformResponseAsync(httpContext, proxyResponse, cancellationToken);
        httpContext.Response.Headers[RequestIdHeader] = httpContext.Features.GetRequiredFeature<ProxyRequest>().RequestId;
        return proceed;
    }
}
