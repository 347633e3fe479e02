using System.Buffers.Text;
using System.Text;

namespace Flotilla.Proxy.FastPath;

/// <summary>How a response's body ends (RFC 9112 §6.3).</summary>
internal enum BodyFraming
{
    /// <summary>No body: a HEAD request, or 1xx, 204 or 304.</summary>
    None,

    ContentLength,

    Chunked,

    /// <summary>The body runs until the task closes the connection.</summary>
    UntilClose,
}

/// <summary>
/// A task's response head, parsed strictly: status line, headers, and how the body is framed. Anything malformed is a
/// bad gateway (the task broke the protocol), never passed on.
/// </summary>
internal sealed class Http1ResponseHead
{
    private readonly List<(int Start, int Length)> _forwarded = [];

    public int StatusCode { get; private set; }

    public BodyFraming Framing { get; private set; }

    public long ContentLength { get; private set; }

    /// <summary>The task will close the connection after this response (or spoke HTTP/1.0 without keep-alive).</summary>
    public bool Close { get; private set; }

    /// <summary>The head's length, its final CRLF included.</summary>
    public int Length { get; private set; }

    /// <summary>Where the status line's reason phrase lies in the head (may be empty).</summary>
    public (int Start, int Length) Reason { get; private set; }

    /// <summary>The header lines (without CRLF) to pass to the client, as offsets into the head.</summary>
    public IReadOnlyList<(int Start, int Length)> Forwarded => _forwarded;

    /// <summary>Parses the head at the start of <paramref name="buffer"/>.</summary>
    /// <returns>True when complete; false when more bytes are needed.</returns>
    /// <exception cref="InvalidDataException">The head is malformed or larger than <see cref="Http1RequestHead.MaxHeadSize"/>.</exception>
    public bool TryParse(ReadOnlySpan<byte> buffer, bool headRequest)
    {
        var end = Http1RequestHead.FindEnd(buffer);
        if (end < 0)
        {
            return buffer.Length < Http1RequestHead.MaxHeadSize ? false : throw new InvalidDataException("response head too large");
        }

        _forwarded.Clear();
        Length = end;
        Close = false;
        ContentLength = -1;
        var lineEnd = buffer.IndexOf("\r\n"u8);
        var http10 = ParseStatusLine(buffer[..lineEnd]);
        var chunked = false;
        var otherCoding = false;
        var keepAlive = false;
        var position = lineEnd + 2;
        while (position < end - 2)
        {
            var line = buffer[position..];
            var length = line.IndexOf("\r\n"u8);
            line = line[..length];
            var colon = line.IndexOf((byte)':');
            if (colon <= 0 || line[..colon].IndexOfAnyExcept(Http1RequestHead.TokenChars) >= 0 || line.IndexOfAny("\r\n\0"u8) >= 0)
            {
                throw new InvalidDataException("malformed response header");
            }

            var name = line[..colon];
            var value = line[(colon + 1)..].Trim(" \t"u8);
            var forward = true;
            if (Ascii.EqualsIgnoreCase(name, "content-length"u8))
            {
                if (!Http1RequestHead.TryParseLength(value, out var contentLength) || (ContentLength >= 0 && ContentLength != contentLength))
                {
                    throw new InvalidDataException("malformed content-length");
                }

                ContentLength = contentLength;
            }
            else if (Ascii.EqualsIgnoreCase(name, "transfer-encoding"u8))
            {
                // Chunked must be the last coding; the codings before it (e.g. gzip) are the client's business.
                var last = value[(value.LastIndexOf((byte)',') + 1)..].Trim(" \t"u8);
                chunked = Ascii.EqualsIgnoreCase(last, "chunked"u8);
                otherCoding |= !chunked;
            }
            else if (Ascii.EqualsIgnoreCase(name, "connection"u8))
            {
                forward = false;
                foreach (var range in value.Split((byte)','))
                {
                    var token = value[range].Trim(" \t"u8);
                    Close |= Ascii.EqualsIgnoreCase(token, "close"u8);
                    keepAlive |= Ascii.EqualsIgnoreCase(token, "keep-alive"u8);
                }
            }
            else
            {
                forward = !(Ascii.EqualsIgnoreCase(name, "keep-alive"u8)
                    || Ascii.EqualsIgnoreCase(name, "proxy-connection"u8)
                    || Ascii.EqualsIgnoreCase(name, "upgrade"u8)
                    || Ascii.EqualsIgnoreCase(name, "x-request-id"u8));
            }

            if (forward)
            {
                _forwarded.Add((position, length));
            }

            position += length + 2;
        }

        Close |= http10 && !keepAlive;
        Framing = headRequest || StatusCode is < 200 or 204 or 304 ? BodyFraming.None
            : otherCoding ? BodyFraming.UntilClose
            : chunked ? BodyFraming.Chunked
            : ContentLength >= 0 ? BodyFraming.ContentLength
            : BodyFraming.UntilClose;
        if (Framing == BodyFraming.Chunked && ContentLength >= 0)
        {
            // Transfer-Encoding overrides Content-Length (RFC 9112 §6.3): the length must not reach the client.
            RemoveContentLength(buffer);
        }

        Close |= Framing == BodyFraming.UntilClose;
        return true;
    }

    /// <returns>True for HTTP/1.0.</returns>
    private bool ParseStatusLine(ReadOnlySpan<byte> line)
    {
        var http10 = line.StartsWith("HTTP/1.0 "u8);
        if (!(http10 || line.StartsWith("HTTP/1.1 "u8)) || line.Length < 12
            || !Utf8Parser.TryParse(line.Slice(9, 3), out int status, out var consumed) || consumed != 3 || status is < 100 or > 599
            || (line.Length > 12 && line[12] != ' '))
        {
            throw new InvalidDataException("malformed status line");
        }

        StatusCode = status;
        Reason = line.Length > 13 ? (13, line.Length - 13) : (0, 0);
        return http10;
    }

    private void RemoveContentLength(ReadOnlySpan<byte> buffer)
    {
        for (var i = _forwarded.Count - 1; i >= 0; i--)
        {
            var (start, length) = _forwarded[i];
            var line = buffer.Slice(start, length);
            if (line.Length > 15 && Ascii.EqualsIgnoreCase(line[..15], "content-length:"u8))
            {
                _forwarded.RemoveAt(i);
            }
        }
    }
}

/// <summary>
/// Follows a chunked body as it is relayed, byte by byte of framing, to find where it ends (after the last chunk's
/// trailers). The bytes are passed on unchanged; this only says how many of them belong to the body.
/// </summary>
internal struct ChunkedScanner
{
    private State _state;
    private long _remaining;
    private int _sizeDigits;

    private enum State
    {
        Size,
        Extension,
        SizeLf,
        Data,
        DataCr,
        DataLf,
        TrailerStart,
        Trailer,
        TrailerLf,
        FinalLf,
        Done,
    }

    public readonly bool Done => _state == State.Done;

    /// <summary>The chunks' data so far, without the framing.</summary>
    public long DataBytes { get; private set; }

    /// <summary>Reads framing and data from <paramref name="bytes"/>.</summary>
    /// <returns>How many bytes belong to the body; fewer than given only when it ended.</returns>
    /// <exception cref="InvalidDataException">The framing is malformed.</exception>
    public int Advance(ReadOnlySpan<byte> bytes)
    {
        var i = 0;
        while (i < bytes.Length && _state != State.Done)
        {
            var b = bytes[i];
            switch (_state)
            {
                case State.Data:
                    var take = (int)Math.Min(_remaining, bytes.Length - i);
                    _remaining -= take;
                    DataBytes += take;
                    i += take;
                    if (_remaining == 0)
                    {
                        _state = State.DataCr;
                    }

                    continue;
                case State.Size when HexValue(b) is var digit and >= 0:
                    if (++_sizeDigits > 15)
                    {
                        throw new InvalidDataException("chunk size too large");
                    }

                    _remaining = (_remaining << 4) | (uint)digit;
                    break;
                case State.Size when _sizeDigits > 0 && (b == ';' || b == ' ' || b == '\t'):
                    _state = State.Extension;
                    break;
                case State.Size or State.Extension when b == '\r' && _sizeDigits > 0:
                    _state = State.SizeLf;
                    break;
                case State.Extension when b != '\n':
                    break;
                case State.SizeLf when b == '\n':
                    _sizeDigits = 0;
                    _state = _remaining == 0 ? State.TrailerStart : State.Data;
                    break;
                case State.DataCr when b == '\r':
                    _state = State.DataLf;
                    break;
                case State.DataLf when b == '\n':
                    _state = State.Size;
                    break;
                case State.TrailerStart when b == '\r':
                    _state = State.FinalLf;
                    break;
                case State.TrailerStart when b != '\n':
                    _state = State.Trailer;
                    break;
                case State.Trailer when b == '\r':
                    _state = State.TrailerLf;
                    break;
                case State.Trailer when b != '\n':
                    break;
                case State.TrailerLf when b == '\n':
                    _state = State.TrailerStart;
                    break;
                case State.FinalLf when b == '\n':
                    _state = State.Done;
                    break;
                default:
                    throw new InvalidDataException($"malformed chunked framing ({_state})");
            }

            i++;
        }

        return i;
    }

    private static int HexValue(byte b) => b switch
    {
        >= (byte)'0' and <= (byte)'9' => b - '0',
        >= (byte)'a' and <= (byte)'f' => b - 'a' + 10,
        >= (byte)'A' and <= (byte)'F' => b - 'A' + 10,
        _ => -1,
    };
}
