using System.Diagnostics;
using System.Net;
using Flotilla.Core.Metrics;
using Flotilla.Proxy.AccessLog;
using Flotilla.Proxy.Forwarding;
using Flotilla.Proxy.Targets;
using Flotilla.Telemetry;

namespace Flotilla.Proxy;

/// <summary>
/// The accounting both request paths share, so that a request is identified and counted alike whichever path carried
/// it: its start (trace, request id, client), the bookkeeping around its time at a target (in flight, latency, passive
/// health) and its end (metrics, the autoscaler's store, the access log).
/// </summary>
internal sealed class RequestLedger(FlotillaMetrics metrics, MetricStore store, AccessLogWriter accessLog, TimeProvider time)
{
    public AccessLogWriter AccessLog => accessLog;

    /// <summary>Starts or continues the W3C trace, settles the request id and the client's address.</summary>
    public ProxyRequest Start(ListenerRuntime listener, IRequestFields fields, IPAddress peer)
    {
        var trace = TraceContext.Continue(fields.Header(TraceContext.ParentHeader), fields.Header(TraceContext.StateHeader));
        var trusted = !listener.Trusted.IsEmpty && listener.Trusted.Contains(peer);
        var incomingId = listener.Spec.TrustRequestId ? fields.Header(ForwardingTransformer.RequestIdHeader).ToString() : "";
        return new ProxyRequest
        {
            Listener = listener.Name,
            StartTimestamp = Stopwatch.GetTimestamp(),
            StartTime = time.GetUtcNow(),
            Trace = trace,
            RequestId = IsValidRequestId(incomingId) ? incomingId : trace.TraceId.ToHexString(),
            Address = trusted ? listener.Trusted.ClientBehind(peer, fields.Header("X-Forwarded-For")) : peer,
            FromTrustedProxy = trusted,
            Scheme = listener.Scheme,
            Method = fields.Method,
            Host = fields.Host,
            Path = fields.Path,
            UserAgent = accessLog.Enabled ? fields.Header("User-Agent").ToString() : "",
        };
    }

    /// <summary>A request is about to go to <paramref name="target"/>: it counts as in flight there from now.</summary>
    /// <returns>The start, for <see cref="Settle"/>.</returns>
    public long Dispatch(ProxyRequest request, Target target)
    {
        request.Target = target;
        var started = time.GetTimestamp();
        target.RequestStarted(started);
        return started;
    }

    /// <summary>The target's part is over: out of flight, its latency observed, its outcome judged for outlier ejection.</summary>
    public void Settle(ProxyRequest request, TargetGroup group, long started, int statusCode)
    {
        var target = request.Target!;
        var ended = time.GetTimestamp();
        target.RequestEnded(ended);
        request.UpstreamTime = time.GetElapsedTime(started, ended);
        target.ObserveLatency(request.UpstreamTime.TotalMilliseconds, ended);
        group.ReportOutcome(target, statusCode);
    }

    /// <summary>The request is answered: counted in the metrics, the autoscaler's store and the access log.</summary>
    public void Complete(ProxyRequest request)
    {
        request.EndTimestamp = Stopwatch.GetTimestamp();
        metrics.RecordRequest(request);
        if (request.Service.Length > 0)
        {
            // The autoscaler's view: per service, and per task when one answered (a 503 for want of one has none).
            store.RecordRequest(request.Service, request.Target?.TaskId, request.StatusCode, Stopwatch.GetElapsedTime(request.StartTimestamp, request.EndTimestamp));
        }

        accessLog.Write(request);
    }

    /// <summary>A client's X-Request-Id is kept only if it is short, printable ASCII (it ends up in logs and headers).</summary>
    private static bool IsValidRequestId(string value) =>
        value.Length is > 0 and <= 128 && value.All(c => c is > ' ' and < (char)127);
}
