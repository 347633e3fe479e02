using System.Buffers;
using System.Buffers.Text;
using System.Net;
using System.Text;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.Extensions.Primitives;
using Microsoft.Net.Http.Headers;

namespace Flotilla.Proxy.FastPath;

/// <summary>
/// An HTTP/1.1 request head, parsed for the fast path by a deliberately narrow grammar: it accepts only what it can
/// forward without doubt and declines everything else — chunked or conflicting bodies, obsolete line folding, bare LF,
/// encoded or dot-segment paths, upgrades, <c>Expect</c>, unusual hop-by-hop headers, HTTP/1.0 — which then goes to
/// Kestrel's full parser and YARP. Declining is never an error: Kestrel answers it, with a 400 when it is malformed.
/// So the two paths cannot disagree about where a request ends (no request smuggling between them).
/// </summary>
/// <remarks>One instance per connection, reused for each of its requests.</remarks>
internal sealed class Http1RequestHead : IRequestFields
{
    /// <summary>Largest head the fast path takes; Kestrel's own limits (32 KiB of headers) apply to the rest.</summary>
    public const int MaxHeadSize = 16 * 1024;

    /// <summary>Kestrel's default limit on the number of headers.</summary>
    public const int MaxHeaders = 100;

    // RFC 9110 tchar: the characters of a method or a header name.
    internal static readonly SearchValues<byte> TokenChars = SearchValues.Create("!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"u8);

    // A path without '%' (Kestrel would decode it) and without '#'; '?' starts the query.
    private static readonly SearchValues<byte> PathChars = SearchValues.Create("!$&'()*+,-./0123456789:;=@ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz~"u8);

    // A query as Kestrel passes it on: visible ASCII without '#'.
    private static readonly SearchValues<byte> QueryChars = SearchValues.Create("!\"$%&'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_`abcdefghijklmnopqrstuvwxyz{|}~"u8);

    // Header values: visible ASCII, space and tab; no control characters, no obs-text.
    private static readonly SearchValues<byte> ValueChars = SearchValues.Create("\t !\"#$%&'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_`abcdefghijklmnopqrstuvwxyz{|}~"u8);

    private static readonly SearchValues<byte> HostChars = SearchValues.Create("-.0123456789:ABCDEFGHIJKLMNOPQRSTUVWXYZ[]_abcdefghijklmnopqrstuvwxyz"u8);

    private byte[] _bytes = [];
    private readonly HeaderEntry[] _headers = new HeaderEntry[MaxHeaders];
    private int _count;
    private Dictionary<string, StringValues>? _query;
    private string? _hostValue;
    private int _targetStart;
    private int _targetLength;

    /// <summary>What a header means to the fast path.</summary>
    public enum HeaderKind : byte
    {
        /// <summary>Passed to the task as the client sent it.</summary>
        Forwarded,

        /// <summary>Not passed on: hop-by-hop, or replaced by the load balancer's own value.</summary>
        Dropped,
    }

    public string Method { get; private set; } = "";

    public string Path { get; private set; } = "";

    /// <summary>The query, with its '?', or empty.</summary>
    public string QueryString { get; private set; } = "";

    public string HostName { get; private set; } = "";

    /// <summary>The Host header's value, port included.</summary>
    public string Host => _hostValue ?? "";

    public IPAddress ClientAddress { get; set; } = IPAddress.None;

    public long ContentLength { get; private set; }

    /// <summary>The client asked to close the connection after this request.</summary>
    public bool Close { get; private set; }

    /// <summary>
    /// The client sent <c>Expect: 100-continue</c>: it waits for a 100 Continue before it sends the body. The header is
    /// not forwarded: the load balancer answers the expectation itself, as it reads the body whole before forwarding.
    /// </summary>
    public bool ExpectContinue { get; private set; }

    /// <summary>The raw request target (path and query) as sent.</summary>
    public ReadOnlySpan<byte> Target => _bytes.AsSpan(_targetStart, _targetLength);

    public int HeaderCount => _count;

    /// <summary>Where the head in <paramref name="buffer"/> ends (its final CRLF included), or -1 if not within the limit.</summary>
    public static int FindEnd(ReadOnlySpan<byte> buffer)
    {
        var end = buffer[..Math.Min(buffer.Length, MaxHeadSize)].IndexOf("\r\n\r\n"u8);
        return end < 0 ? -1 : end + 4;
    }

    /// <summary>
    /// Takes in the head at the start of <paramref name="buffer"/>'s first <paramref name="length"/> bytes, where it
    /// stays: no copy, so the buffer must keep those bytes at their place for as long as the head is read (see
    /// <see cref="Rebase"/>).
    /// </summary>
    /// <returns>The head's length (see <see cref="FindEnd"/>), or -1 when it is not complete within the limit.</returns>
    public int Load(byte[] buffer, int length)
    {
        _bytes = buffer;
        return FindEnd(buffer.AsSpan(0, length));
    }

    /// <summary>The head's bytes are now in <paramref name="buffer"/>, at the same offsets (or gone, when it is empty).</summary>
    public void Rebase(byte[] buffer) => _bytes = buffer;

    /// <summary>Parses the head that <see cref="Load"/> took in.</summary>
    /// <param name="length">Its length, as <see cref="Load"/> returned it.</param>
    /// <returns>Null when the fast path takes the request; else why it declines.</returns>
    public string? Parse(int length)
    {
        _count = 0;
        _query = null;
        ContentLength = 0;
        Close = false;
        ExpectContinue = false;
        var span = _bytes.AsSpan(0, length);

        var lineEnd = span.IndexOf("\r\n"u8);
        if (ParseRequestLine(span[..lineEnd]) is { } declined)
        {
            return declined;
        }

        var hosts = 0;
        var lengths = 0;
        var position = lineEnd + 2;
        while (position < length - 2)
        {
            var line = span[position..];
            var lineLength = line.IndexOf("\r\n"u8);
            line = line[..lineLength];
            if (lineLength == 0 || line.Contains((byte)'\n'))
            {
                return "malformed header line";
            }

            var colon = line.IndexOf((byte)':');
            if (colon <= 0 || line[..colon].IndexOfAnyExcept(TokenChars) >= 0)
            {
                return "malformed header name";
            }

            var value = line[(colon + 1)..];
            if (value.IndexOfAnyExcept(ValueChars) >= 0)
            {
                return "header value outside visible ASCII";
            }

            var leading = value.Length - value.TrimStart(" \t"u8).Length;
            value = value.Trim(" \t"u8);
            if (_count == MaxHeaders)
            {
                return "too many headers";
            }

            var name = line[..colon];
            var kind = HeaderKind.Forwarded;
            if (Ascii.EqualsIgnoreCase(name, "host"u8))
            {
                hosts++;
                if (ParseHost(value) is { } bad)
                {
                    return bad;
                }
            }
            else if (Ascii.EqualsIgnoreCase(name, "content-length"u8))
            {
                lengths++;
                if (!TryParseLength(value, out var contentLength))
                {
                    return "malformed content-length";
                }

                ContentLength = contentLength;
            }
            else if (Ascii.EqualsIgnoreCase(name, "connection"u8))
            {
                if (ParseConnection(value) is { } bad)
                {
                    return bad;
                }

                kind = HeaderKind.Dropped;
            }
            else if (Ascii.EqualsIgnoreCase(name, "transfer-encoding"u8))
            {
                return "transfer-encoding header";
            }
            else if (Ascii.EqualsIgnoreCase(name, "upgrade"u8))
            {
                return "upgrade header";
            }
            else if (Ascii.EqualsIgnoreCase(name, "expect"u8))
            {
                if (ExpectContinue || !Ascii.EqualsIgnoreCase(value, "100-continue"u8))
                {
                    return "expect header"; // an expectation other than 100-continue: Kestrel answers 417
                }

                ExpectContinue = true;
                kind = HeaderKind.Dropped;
            }
            else if (IsDropped(name))
            {
                kind = HeaderKind.Dropped;
            }

            _headers[_count++] = new HeaderEntry(position, colon, position + colon + 1 + leading, value.Length, kind);
            position += lineLength + 2;
        }

        return hosts != 1 ? "not exactly one host header" : lengths > 1 ? "more than one content-length" : null;
    }

    /// <summary>A Content-Length value: digits only (no sign, no spaces), within a long.</summary>
    internal static bool TryParseLength(ReadOnlySpan<byte> value, out long length) =>
        Utf8Parser.TryParse(value, out length, out var consumed) && consumed == value.Length && value.IndexOfAnyExceptInRange((byte)'0', (byte)'9') < 0;

    /// <summary>The header at <paramref name="index"/>: its whole line (without CRLF) and whether it is forwarded.</summary>
    public (ReadOnlyMemory<byte> Line, HeaderKind Kind) HeaderAt(int index)
    {
        var header = _headers[index];
        return (_bytes.AsMemory(header.Start, header.ValueStart + header.ValueLength - header.Start), header.Kind);
    }

    public StringValues Header(string name)
    {
        var values = StringValues.Empty;
        for (var i = 0; i < _count; i++)
        {
            var header = _headers[i];
            if (Ascii.EqualsIgnoreCase(_bytes.AsSpan(header.Start, header.NameLength), name))
            {
                values = StringValues.Concat(values, Encoding.ASCII.GetString(_bytes, header.ValueStart, header.ValueLength));
            }
        }

        return values;
    }

    public StringValues Query(string name)
    {
        _query ??= QueryHelpers.ParseNullableQuery(QueryString) ?? [];
        return _query.GetValueOrDefault(name);
    }

    /// <summary>As Kestrel's cookie collection: the last cookie of the name (names ignore case), its value unescaped.</summary>
    public string? Cookie(string name)
    {
        var headers = Header("Cookie");
        if (headers.Count == 0 || !CookieHeaderValue.TryParseList(headers, out var cookies))
        {
            return null;
        }

        var found = cookies.LastOrDefault(c => c.Name.Equals(name, StringComparison.OrdinalIgnoreCase));
        return found is null ? null : Uri.UnescapeDataString(found.Value.ToString());
    }

    // Headers that are hop-by-hop, or that the load balancer writes itself (X-Forwarded-*, X-Request-Id, trace context).
    private static bool IsDropped(ReadOnlySpan<byte> name) =>
        Ascii.EqualsIgnoreCase(name, "keep-alive"u8)
        || Ascii.EqualsIgnoreCase(name, "proxy-connection"u8)
        || Ascii.EqualsIgnoreCase(name, "te"u8)
        || Ascii.EqualsIgnoreCase(name, "x-forwarded-for"u8)
        || Ascii.EqualsIgnoreCase(name, "x-forwarded-proto"u8)
        || Ascii.EqualsIgnoreCase(name, "x-forwarded-host"u8)
        || Ascii.EqualsIgnoreCase(name, "x-request-id"u8)
        || Ascii.EqualsIgnoreCase(name, "traceparent"u8)
        || Ascii.EqualsIgnoreCase(name, "tracestate"u8);

    private string? ParseRequestLine(ReadOnlySpan<byte> line)
    {
        var space = line.IndexOf((byte)' ');
        if (space <= 0 || line[..space].IndexOfAnyExcept(TokenChars) >= 0)
        {
            return "malformed method";
        }

        Method = KnownMethod(line[..space]) ?? Encoding.ASCII.GetString(line[..space]);
        var rest = line[(space + 1)..];
        space = rest.IndexOf((byte)' ');
        if (space < 1 || !rest[(space + 1)..].SequenceEqual("HTTP/1.1"u8))
        {
            return "not HTTP/1.1";
        }

        var target = rest[..space];
        _targetStart = line.Length - rest.Length;
        _targetLength = space;
        var question = target.IndexOf((byte)'?');
        var path = question < 0 ? target : target[..question];
        if (path.Length == 0 || path[0] != '/' || path.IndexOfAnyExcept(PathChars) >= 0 || path.IndexOf("/."u8) >= 0)
        {
            return "path needs normalizing";
        }

        if (question >= 0 && target[question..].IndexOfAnyExcept(QueryChars) >= 0)
        {
            return "query outside visible ASCII";
        }

        Path = Encoding.ASCII.GetString(path);
        QueryString = question < 0 ? "" : Encoding.ASCII.GetString(target[question..]);
        return null;
    }

    private string? ParseHost(ReadOnlySpan<byte> value)
    {
        if (value.Length == 0 || value.IndexOfAnyExcept(HostChars) >= 0)
        {
            return "unusual host";
        }

        // One string per connection while the client keeps sending the same Host, as it nearly always does.
        if (_hostValue is null || !Ascii.Equals(value, _hostValue))
        {
            _hostValue = Encoding.ASCII.GetString(value);
            HostName = new HostString(_hostValue).Host;
        }

        return null;
    }

    private string? ParseConnection(ReadOnlySpan<byte> value)
    {
        foreach (var range in value.Split((byte)','))
        {
            var token = value[range].Trim(" \t"u8);
            if (Ascii.EqualsIgnoreCase(token, "close"u8))
            {
                Close = true;
            }
            else if (!Ascii.EqualsIgnoreCase(token, "keep-alive"u8) && token.Length > 0)
            {
                return "connection header names other headers";
            }
        }

        return null;
    }

    private static string? KnownMethod(ReadOnlySpan<byte> method) => method switch
    {
        _ when method.SequenceEqual("GET"u8) => HttpMethods.Get,
        _ when method.SequenceEqual("POST"u8) => HttpMethods.Post,
        _ when method.SequenceEqual("PUT"u8) => HttpMethods.Put,
        _ when method.SequenceEqual("DELETE"u8) => HttpMethods.Delete,
        _ when method.SequenceEqual("HEAD"u8) => HttpMethods.Head,
        _ when method.SequenceEqual("PATCH"u8) => HttpMethods.Patch,
        _ when method.SequenceEqual("OPTIONS"u8) => HttpMethods.Options,
        _ => null,
    };

    private readonly record struct HeaderEntry(int Start, int NameLength, int ValueStart, int ValueLength, HeaderKind Kind);
}
