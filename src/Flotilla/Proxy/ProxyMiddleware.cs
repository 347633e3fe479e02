using System.Net;
using Flotilla.Proxy.Forwarding;
using Flotilla.Proxy.Routing;
using Flotilla.Proxy.Targets;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Net.Http.Headers;
using Yarp.ReverseProxy.Forwarder;

namespace Flotilla.Proxy;

/// <summary>
/// The load balancer's request path, and its only middleware: identify the request (trace, request id, client), find the
/// listener's first matching rule, carry out its action — forward to a target of a service (sticky, then by the
/// service's algorithm), answer, or redirect — and account for it (in flight, latency, passive health, metrics, access log).
/// </summary>
internal sealed class ProxyMiddleware
{
    private readonly RoutingTable _routes;
    private readonly TargetGroups _groups;
    private readonly IHttpForwarder _forwarder;
    private readonly HttpMessageInvoker _client;
    private readonly RequestLedger _ledger;
    private readonly StickyCookie _sticky;
    private readonly ListenerDirectory _listeners;

    public ProxyMiddleware(
        RequestDelegate next,
        RoutingTable routes,
        TargetGroups groups,
        IHttpForwarder forwarder,
        ForwarderClient client,
        RequestLedger ledger,
        StickyCookie sticky,
        ListenerDirectory listeners)
    {
        _ = next;
        _routes = routes;
        _groups = groups;
        _forwarder = forwarder;
        _client = client.Invoker;
        _ledger = ledger;
        _sticky = sticky;
        _listeners = listeners;
    }

    public async Task InvokeAsync(HttpContext context)
    {
        var listener = ListenerRuntime.Of(context);
        var fields = new HttpRequestFields(context);
        var request = Begin(context, fields, listener);
        try
        {
            if (listener.RedirectsToHttps)
            {
                RedirectToHttps(context);
            }
            else if (context.Request.ContentLength > listener.Spec.MaxBodySize)
            {
                context.Response.StatusCode = StatusCodes.Status413PayloadTooLarge;
            }
            else
            {
                var router = _routes.Current;
                var rule = router.Match(listener.Name, fields);
                request.Rule = rule;
                await ActAsync(context, fields, request, rule?.Action ?? router.Default(listener.Name));
            }
        }
        finally
        {
            End(context, request);
        }
    }

    /// <summary>Starts the request's account, and gives the client its request id whatever the outcome.</summary>
    private ProxyRequest Begin(HttpContext context, HttpRequestFields fields, ListenerRuntime listener)
    {
        var request = _ledger.Start(listener, fields, context.Connection.RemoteIpAddress ?? IPAddress.None);
        context.Features.Set(request);
        context.Features.Set<IClientAddressFeature>(request);
        context.Response.Headers[ForwardingTransformer.RequestIdHeader] = request.RequestId;
        if (_ledger.AccessLog.Enabled)
        {
            context.Response.Body = new CountingStream(context.Response.Body);
        }

        return request;
    }

    private void End(HttpContext context, ProxyRequest request)
    {
        request.StatusCode = context.Response.StatusCode;
        request.BytesIn = context.Request.ContentLength ?? 0;
        request.BytesOut = (context.Response.Body as CountingStream)?.Written ?? context.Response.ContentLength ?? 0;
        _ledger.Complete(request);
    }

    private Task ActAsync(HttpContext context, HttpRequestFields fields, ProxyRequest request, CompiledAction action) => action switch
    {
        ForwardPlan forward => ForwardAsync(context, fields, request, forward.Choose(Random.Shared)),
        FixedResponsePlan fixedResponse => AnswerAsync(context, fixedResponse),
        RedirectPlan redirect => RedirectAsync(context, redirect),
        _ => throw new InvalidOperationException($"unknown action {action.GetType().Name}"),
    };

    private async Task ForwardAsync(HttpContext context, HttpRequestFields fields, ProxyRequest request, ForwardPlan.Destination destination)
    {
        var service = destination.Service;
        request.Service = service;
        var group = _groups.ByService.GetValueOrDefault(service);
        string? setCookie = null;
        var target = group is null ? null : _sticky.Pick(group, fields, request.Scheme, out setCookie);
        if (target is null)
        {
            context.Response.StatusCode = StatusCodes.Status503ServiceUnavailable;
            context.Response.Headers.RetryAfter = group?.RetryAfter ?? "1";
            context.Response.ContentType = "text/plain; charset=utf-8";
            await context.Response.WriteAsync(TargetGroup.NoTargetMessage(service));
            return;
        }

        if (setCookie is not null)
        {
            context.Response.Headers.Append(HeaderNames.SetCookie, setCookie);
        }

        if (context.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } bodyLimit)
        {
            bodyLimit.MaxRequestBodySize = ListenerRuntime.Of(context).Spec.MaxBodySize;
        }

        var started = _ledger.Dispatch(request, target);
        try
        {
            var error = await _forwarder.SendAsync(context, target.Address, _client, destination.Config, ForwardingTransformer.Instance);
            if (error == ForwarderError.RequestBodyClient && !context.Response.HasStarted
                && context.Features.Get<IForwarderErrorFeature>()?.Exception is Microsoft.AspNetCore.Http.BadHttpRequestException { StatusCode: StatusCodes.Status413PayloadTooLarge })
            {
                // A chunked body that outgrew the limit: say so, rather than YARP's generic 400.
                context.Response.StatusCode = StatusCodes.Status413PayloadTooLarge;
            }
        }
        finally
        {
            _ledger.Settle(request, group!, started, context.Response.StatusCode);
        }
    }

    private static Task AnswerAsync(HttpContext context, FixedResponsePlan plan)
    {
        context.Response.StatusCode = plan.Status;
        context.Response.ContentType = plan.ContentType;
        if (plan.Body.Length == 0)
        {
            // Kestrel ends it with Content-Length: 0, or none for 204 and 304, which refuse even an empty write.
            return Task.CompletedTask;
        }

        context.Response.ContentLength = plan.Body.Length;
        return context.Response.Body.WriteAsync(plan.Body).AsTask();
    }

    private static Task RedirectAsync(HttpContext context, RedirectPlan plan)
    {
        var request = context.Request;
        context.Response.StatusCode = plan.Status;
        context.Response.Headers.Location = plan.LocationFor(request.Scheme, request.Host.Value ?? "", request.PathBase + request.Path, request.QueryString.Value ?? "");
        return Task.CompletedTask;
    }

    /// <summary><c>redirect: https</c>: 301 to the same URL on the spec's first https listener.</summary>
    private void RedirectToHttps(HttpContext context)
    {
        var httpsPort = _listeners.HttpsPort ?? 443;
        var host = context.Request.Host.Host;
        var authority = httpsPort == 443 ? host : $"{host}:{httpsPort}";
        context.Response.StatusCode = StatusCodes.Status301MovedPermanently;
        context.Response.Headers.Location = $"https://{authority}{context.Request.PathBase}{context.Request.Path}{context.Request.QueryString}";
    }
}
