using System.Buffers;
using System.Buffers.Text;
using System.Text;
using Flotilla.Proxy.Forwarding;
using Microsoft.AspNetCore.WebUtilities;

namespace Flotilla.Proxy.FastPath;

/// <summary>
/// The bytes the fast path writes: a client's request as the task gets it (the headers <see cref="ForwardingTransformer"/>
/// writes on the YARP path), a task's response head as the client gets it, and the load balancer's own answers.
/// </summary>
internal static class Http1Writer
{
    /// <summary>The client's head for the task: hop-by-hop and replaced headers out, the load balancer's in; then the body.</summary>
    public static void WriteRequest(IBufferWriter<byte> writer, Http1RequestHead head, ProxyRequest request, string peer, ReadOnlySpan<byte> body)
    {
        WriteAscii(writer, request.Method);
        writer.Write(" "u8);
        writer.Write(head.Target);
        writer.Write(" HTTP/1.1\r\n"u8);
        for (var i = 0; i < head.HeaderCount; i++)
        {
            var (line, kind) = head.HeaderAt(i);
            if (kind == Http1RequestHead.HeaderKind.Forwarded)
            {
                writer.Write(line.Span);
                writer.Write("\r\n"u8);
            }
        }

        // As ForwardingTransformer: from a trusted proxy the chain is extended and its proto and host kept.
        string forwardedFor = peer, proto = request.Scheme, host = head.Host;
        if (request.FromTrustedProxy)
        {
            var chain = head.Header("X-Forwarded-For").ToString();
            forwardedFor = chain.Length == 0 ? peer : $"{chain}, {peer}";
            proto = head.Header("X-Forwarded-Proto") is { Count: > 0 } p ? p.ToString() : proto;
            host = head.Header("X-Forwarded-Host") is { Count: > 0 } h ? h.ToString() : host;
        }

        WriteHeader(writer, "X-Forwarded-For: "u8, forwardedFor);
        WriteHeader(writer, "\r\nX-Forwarded-Proto: "u8, proto);
        WriteHeader(writer, "\r\nX-Forwarded-Host: "u8, host);
        WriteHeader(writer, "\r\nX-Request-Id: "u8, request.RequestId);
        WriteHeader(writer, "\r\ntraceparent: "u8, request.Trace.ToTraceParent());
        if (request.Trace.TraceState is { Length: > 0 } state)
        {
            WriteHeader(writer, "\r\ntracestate: "u8, state);
        }

        writer.Write("\r\n\r\n"u8);
        writer.Write(body);
    }

    /// <summary>
    /// The task's response head for the client: its status and end-to-end headers from <paramref name="response"/>
    /// (parsed from <paramref name="head"/>), the request id, the sticky-session cookie when there is one to set, and
    /// <c>Connection: close</c> when the connection closes after it.
    /// </summary>
    public static void WriteResponseHead(IBufferWriter<byte> writer, Http1ResponseHead response, ReadOnlySpan<byte> head, ProxyRequest request, string? setCookie, bool close)
    {
        writer.Write("HTTP/1.1 "u8);
        WriteNumber(writer, response.StatusCode);
        writer.Write(" "u8);
        var (reasonStart, reasonLength) = response.Reason;
        writer.Write(head.Slice(reasonStart, reasonLength));
        writer.Write("\r\n"u8);
        foreach (var (start, length) in response.Forwarded)
        {
            writer.Write(head.Slice(start, length));
            writer.Write("\r\n"u8);
        }

        WriteHeader(writer, "X-Request-Id: "u8, request.RequestId);
        if (setCookie is not null)
        {
            WriteHeader(writer, "\r\nSet-Cookie: "u8, setCookie);
        }

        writer.Write(close ? "\r\nConnection: close\r\n\r\n"u8 : "\r\n\r\n"u8);
    }

    /// <summary>
    /// A response of the load balancer's own (an error, a fixed response or a redirect), as Kestrel writes it, for
    /// <paramref name="request"/>; null for a request whose head never came whole, which has no request id.
    /// </summary>
    /// <returns>The body's length in bytes, as written (none for HEAD).</returns>
    public static int WriteAnswer(IBufferWriter<byte> writer, ProxyRequest? request, LoadBalancerAnswer answer, bool close)
    {
        writer.Write("HTTP/1.1 "u8);
        WriteNumber(writer, answer.Status);
        writer.Write(" "u8);
        WriteAscii(writer, ReasonPhrases.GetReasonPhrase(answer.Status));
        writer.Write("\r\nDate: "u8);
        WriteAscii(writer, DateTimeOffset.UtcNow.ToString("r"));
        if (request is not null)
        {
            WriteHeader(writer, "\r\nX-Request-Id: "u8, request.RequestId);
        }

        if (answer.RetryAfter is { } retryAfter)
        {
            WriteHeader(writer, "\r\nRetry-After: "u8, retryAfter);
        }

        if (answer.Location is { } location)
        {
            WriteHeader(writer, "\r\nLocation: "u8, location);
        }

        if (answer.ContentType is { } contentType)
        {
            WriteHeader(writer, "\r\nContent-Type: "u8, contentType);
        }

        var body = answer.Body.Span;
        var bodiless = answer.Status is StatusCodes.Status204NoContent or StatusCodes.Status304NotModified;
        if (!bodiless)
        {
            writer.Write("\r\nContent-Length: "u8);
            WriteNumber(writer, body.Length);
        }

        writer.Write(close ? "\r\nConnection: close\r\n\r\n"u8 : "\r\n\r\n"u8);
        if (bodiless || request?.Method == HttpMethods.Head)
        {
            return 0;
        }

        writer.Write(body);
        return body.Length;
    }

    private static void WriteHeader(IBufferWriter<byte> writer, ReadOnlySpan<byte> nameAndColon, string value)
    {
        writer.Write(nameAndColon);
        WriteAscii(writer, value);
    }

    /// <summary>ASCII only: every string written here was checked to be visible ASCII (or made by the load balancer).</summary>
    private static void WriteAscii(IBufferWriter<byte> writer, string value)
    {
        var span = writer.GetSpan(value.Length);
        var written = Encoding.ASCII.GetBytes(value, span);
        writer.Advance(written);
    }

    private static void WriteNumber(IBufferWriter<byte> writer, long value)
    {
        var span = writer.GetSpan(20);
        Utf8Formatter.TryFormat(value, span, out var written);
        writer.Advance(written);
    }
}

/// <summary>A response the load balancer makes itself; header values are ASCII (checked where they come from).</summary>
internal readonly record struct LoadBalancerAnswer(int Status)
{
    public ReadOnlyMemory<byte> Body { get; init; }

    public string? ContentType { get; init; }

    public string? RetryAfter { get; init; }

    public string? Location { get; init; }
}
