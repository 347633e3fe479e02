using System.Diagnostics;
using Microsoft.Extensions.Primitives;

namespace Flotilla.Proxy.Forwarding;

/// <summary>
/// The load balancer's span of a request in W3C Trace Context terms: the incoming trace continued (or a new one
/// started) with a span id of its own, which the task sees as its parent in <c>traceparent</c>. Plain ids rather than
/// an <see cref="Activity"/>: nothing listens to the proxy's spans, and an activity per request costs an allocation
/// and an async-local write on the hot path.
/// </summary>
internal readonly record struct TraceContext(ActivityTraceId TraceId, ActivitySpanId SpanId, ActivityTraceFlags Flags, string? TraceState)
{
    public const string ParentHeader = "traceparent";
    public const string StateHeader = "tracestate";

    /// <summary>Continues the trace of a valid incoming <c>traceparent</c> (keeping its <c>tracestate</c>), or starts one.</summary>
    public static TraceContext Continue(StringValues traceParent, StringValues traceState) =>
        traceParent.Count == 1 && ActivityContext.TryParse(traceParent, traceState, out var parent)
            ? new TraceContext(parent.TraceId, ActivitySpanId.CreateRandom(), parent.TraceFlags, parent.TraceState)
            : new TraceContext(ActivityTraceId.CreateRandom(), ActivitySpanId.CreateRandom(), ActivityTraceFlags.None, null);

    /// <summary>The <c>traceparent</c> header that names this span as the parent: <c>00-TRACE-SPAN-FLAGS</c>.</summary>
    public string ToTraceParent() =>
        $"00-{TraceId.ToHexString()}-{SpanId.ToHexString()}-{((Flags & ActivityTraceFlags.Recorded) != 0 ? "01" : "00")}";
}
