using System.Buffers;
using System.Buffers.Text;
using System.Diagnostics;
using System.Text.Json;
using System.Threading.Channels;
using Flotilla.Core.Spec;
using Flotilla.Proxy.Forwarding;
using Microsoft.Extensions.Logging.Abstractions;

namespace Flotilla.Proxy.AccessLog;

/// <summary>
/// One JSON line per request, to <c>access.log</c> in the state directory and optionally to standard output. Requests
/// only enqueue their <see cref="ProxyRequest"/> into a bounded channel; a single background writer formats and writes.
/// When the channel is full the line is dropped and counted (<see cref="Dropped"/>): the request path never waits on a disk.
/// The writer also rotates the file, so that the state directory stays bounded without an outside tool: a line that
/// would take <c>access.log</c> past <see cref="AccessLogSpec.MaxSize"/> starts a fresh one, and the full files are
/// kept as <c>access.log.1</c> (newest) to <c>access.log.N</c>.
/// A write that fails (a full disk, a state directory made read-only) loses that batch's lines, counted as dropped,
/// and is logged once; the writer opens the file again for the next batch and logs when it writes again.
/// <c>flotilla apply</c> changes its settings in place (<see cref="Apply"/>).
/// </summary>
internal sealed partial class AccessLogWriter : IAsyncDisposable
{
    /// <summary>Lines that may wait for the writer: about 10 MB of pending requests at most.</summary>
    private const int Capacity = 32_768;

    /// <summary>How long the writer lets lines gather before it writes them.</summary>
    private static readonly TimeSpan BatchWindow = TimeSpan.FromMilliseconds(50);

    /// <summary>Requests to log; null wakes the writer for a batch without a line (after <see cref="Apply"/>).</summary>
    private readonly Channel<ProxyRequest?> _queue = Channel.CreateBounded<ProxyRequest?>(new BoundedChannelOptions(Capacity)
    {
        // Wait (not DropWrite) so that TryWrite reports a full queue and the drop can be counted.
        FullMode = BoundedChannelFullMode.Wait,
        SingleReader = true,
    });

    private readonly string _path;
    private readonly ILogger _logger;
    private readonly Task _writer;
    private readonly TaskCompletionSource _closing = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private volatile AccessLogSpec _spec;
    private long _dropped;
    private Stream? _stdout;
    private FileStream? _file;
    private long _fileLength;

    /// <summary>Lines dropped since the last write failed; null while writes succeed.</summary>
    private long? _droppedSinceFailure;

    public AccessLogWriter(AccessLogSpec spec, string path, ILogger? logger = null)
    {
        _spec = spec;
        _path = path;
        _logger = logger ?? NullLogger.Instance;

        // Opened now so that a state directory Flotilla cannot write to fails the start, not the first request.
        _file = spec.Enabled ? Open() : null;
        _writer = Task.Run(WriteAsync);
    }

    public bool Enabled => _spec.Enabled;

    /// <summary>Lines lost because the writer could not keep up, or could not write them.</summary>
    public long Dropped => Interlocked.Read(ref _dropped);

    public void Write(ProxyRequest request)
    {
        if (Enabled && !_queue.Writer.TryWrite(request))
        {
            Interlocked.Increment(ref _dropped);
        }
    }

    /// <summary>
    /// Takes an applied spec's settings. Lines already queued are still written; size, file count and stdout hold from
    /// the next batch. Turned off, the log takes no new line and closes its file; turned on, it opens it again.
    /// </summary>
    public void Apply(AccessLogSpec spec)
    {
        if (spec == _spec)
        {
            return;
        }

        _spec = spec;
        _queue.Writer.TryWrite(null);
    }

    public async ValueTask DisposeAsync()
    {
        _queue.Writer.TryComplete();
        _closing.TrySetResult();
        await _writer;
        if (_file is not null)
        {
            await _file.DisposeAsync();
        }
    }

    /// <summary>Formats a request as its access-log line (no newline).</summary>
    /// <remarks>
    /// Runs once per request on the writer, so it is kept cheap: the field names are encoded once, times are written as
    /// fixed-point milliseconds rather than formatted doubles, and the writer's own <see cref="Utf8JsonWriter"/> skips its
    /// structural checks.
    /// </remarks>
    public static void Format(ProxyRequest r, Utf8JsonWriter json)
    {
        json.WriteStartObject();
        json.WriteString(Field.Time, r.StartTime);
        json.WriteString(Field.RequestId, r.RequestId);
        json.WriteString(Field.TraceId, r.Trace.TraceId.ToHexString());
        json.WriteString(Field.Listener, r.Listener);
        json.WriteString(Field.Rule, r.Rule?.Id);
        json.WriteString(Field.Service, r.Service.Length == 0 ? null : r.Service);
        json.WriteString(Field.Task, r.Target?.TaskId);
        json.WriteString(Field.Method, r.Method);
        json.WriteString(Field.Host, r.Host);
        json.WriteString(Field.Path, r.Path);
        json.WriteNumber(Field.Status, r.StatusCode);
        WriteMilliseconds(json, Field.DurationMs, Stopwatch.GetElapsedTime(r.StartTimestamp, r.EndTimestamp));
        if (r.Target is null)
        {
            json.WriteNull(Field.UpstreamMs);
        }
        else
        {
            WriteMilliseconds(json, Field.UpstreamMs, r.UpstreamTime);
        }

        json.WriteNumber(Field.BytesIn, r.BytesIn);
        json.WriteNumber(Field.BytesOut, r.BytesOut);
        json.WriteString(Field.ClientIp, r.Address.ToString());
        json.WriteString(Field.UserAgent, r.UserAgent);
        json.WriteEndObject();
    }

    /// <summary>Milliseconds to the microsecond, trailing zeros trimmed (1.5, 12.034, 3): a JSON number, no double formatted.</summary>
    private static void WriteMilliseconds(Utf8JsonWriter json, JsonEncodedText name, TimeSpan time)
    {
        var micros = Math.Max(0, (time.Ticks + TimeSpan.TicksPerMicrosecond / 2) / TimeSpan.TicksPerMicrosecond);
        Span<byte> text = stackalloc byte[24];
        Utf8Formatter.TryFormat(micros / 1000, text, out var length);
        var fraction = (int)(micros % 1000);
        if (fraction != 0)
        {
            text[length++] = (byte)'.';
            for (var unit = 100; fraction != 0; unit /= 10)
            {
                text[length++] = (byte)('0' + fraction / unit);
                fraction %= unit;
            }
        }

        json.WritePropertyName(name);
        json.WriteRawValue(text[..length], skipInputValidation: true);
    }

    private async Task WriteAsync()
    {
        var buffer = new ArrayBufferWriter<byte>(64 * 1024);
        using var json = new Utf8JsonWriter(buffer, new JsonWriterOptions { SkipValidation = true });
        var reader = _queue.Reader;
        while (await reader.WaitToReadAsync())
        {
            // Let a batch gather before writing it: under load the writer wakes once per window rather than once per
            // request (each wake-up is a thread-pool hand-off paid on the request path), and lines reach the file
            // within a window. Closing the writer skips the wait.
            await Task.WhenAny(Task.Delay(BatchWindow), _closing.Task);
            try
            {
                while (reader.TryRead(out var request))
                {
                    if (request is null)
                    {
                        continue;
                    }

                    _file ??= Open();
                    var lineStart = buffer.WrittenCount;
                    Format(request, json);
                    json.Flush();
                    json.Reset();
                    buffer.Write("\n"u8);
                    if (_fileLength + buffer.WrittenCount > _spec.MaxSize && _fileLength + lineStart > 0)
                    {
                        // The lines before this one fill the file; this one starts the next (once per rotation, so a copy).
                        Append(buffer.WrittenSpan[..lineStart]);
                        var line = buffer.WrittenSpan[lineStart..].ToArray();
                        buffer.ResetWrittenCount();
                        buffer.Write(line);
                        Rotate();
                    }

                    if (buffer.WrittenCount >= 60 * 1024)
                    {
                        WriteOut(buffer);
                    }
                }

                if (buffer.WrittenCount > 0)
                {
                    WriteOut(buffer);
                    if (_droppedSinceFailure is { } dropped)
                    {
                        _droppedSinceFailure = null;
                        LogWritingAgain(_path, dropped);
                    }
                }

                if (!Enabled && _file is not null)
                {
                    await _file.DisposeAsync();
                    _file = null;
                }
            }
            catch (Exception exception) when (exception is IOException or UnauthorizedAccessException)
            {
                // This batch is lost: the lines formatted and not yet written (JSON escapes a newline inside a value, so
                // each newline ends one), and what is still queued. The next batch opens the file again.
                var lost = buffer.WrittenSpan.Count((byte)'\n');
                while (reader.TryRead(out var request))
                {
                    lost += request is null ? 0 : 1;
                }

                buffer.ResetWrittenCount();
                json.Reset();
                Interlocked.Add(ref _dropped, lost);
                var file = _file;
                _file = null;
                CloseAfterFailure(file);
                if (_droppedSinceFailure is null)
                {
                    LogCannotWrite(_path, exception.Message);
                }

                _droppedSinceFailure = (_droppedSinceFailure ?? 0) + lost;
            }
        }
    }

    private void WriteOut(ArrayBufferWriter<byte> buffer)
    {
        Append(buffer.WrittenSpan);
        buffer.ResetWrittenCount();
    }

    /// <summary>
    /// Writes lines straight to the file (no buffer in between: they come in batches) and to stdout if asked. The writes
    /// block the writer's thread for as long as the page cache takes them, which is what an async file write on Linux
    /// does too, without its hand-offs between threads.
    /// </summary>
    private void Append(ReadOnlySpan<byte> lines)
    {
        _file!.Write(lines);
        _fileLength += lines.Length;
        if (_spec.Stdout)
        {
            _stdout ??= Console.OpenStandardOutput();
            _stdout.Write(lines);
        }
    }

    /// <summary>
    /// access.log becomes access.log.1, access.log.1 becomes .2, and so on; the oldest beyond the count is overwritten,
    /// and files numbered above it (left when <see cref="AccessLogSpec.MaxFiles"/> was lowered) are deleted.
    /// </summary>
    private void Rotate()
    {
        _file!.Dispose();
        _file = null;
        for (var i = _spec.MaxFiles + 1; File.Exists($"{_path}.{i}"); i++)
        {
            File.Delete($"{_path}.{i}");
        }

        for (var i = _spec.MaxFiles - 1; i >= 1; i--)
        {
            if (File.Exists($"{_path}.{i}"))
            {
                File.Move($"{_path}.{i}", $"{_path}.{i + 1}", overwrite: true);
            }
        }

        File.Move(_path, _path + ".1", overwrite: true);
        _file = Open();
    }

    /// <summary>
    /// Opens access.log to append to it; what an earlier run left in it counts toward its size. A last line cut short
    /// (by a failed write, or a crash) is ended first, so that the next line is whole.
    /// </summary>
    private FileStream Open()
    {
        var file = new FileStream(_path, new FileStreamOptions
        {
            Mode = FileMode.OpenOrCreate,
            Access = FileAccess.ReadWrite,
            Share = FileShare.Read,
            UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite,
            BufferSize = 0,
        });
        if (file.Length > 0)
        {
            file.Seek(-1, SeekOrigin.End);
            if (file.ReadByte() != '\n')
            {
                file.Write("\n"u8);
            }
        }

        _fileLength = file.Seek(0, SeekOrigin.End);
        return file;
    }

    /// <summary>Closes a file whose write failed; its buffered bytes are part of the lost batch, so a second failure is ignored.</summary>
    private static void CloseAfterFailure(FileStream? file)
    {
        try
        {
            file?.Dispose();
        }
        catch (IOException)
        {
        }
    }

    /// <summary>The line's field names, encoded once.</summary>
    private static class Field
    {
        public static readonly JsonEncodedText Time = JsonEncodedText.Encode("time");
        public static readonly JsonEncodedText RequestId = JsonEncodedText.Encode("requestId");
        public static readonly JsonEncodedText TraceId = JsonEncodedText.Encode("traceId");
        public static readonly JsonEncodedText Listener = JsonEncodedText.Encode("listener");
        public static readonly JsonEncodedText Rule = JsonEncodedText.Encode("rule");
        public static readonly JsonEncodedText Service = JsonEncodedText.Encode("service");
        public static readonly JsonEncodedText Task = JsonEncodedText.Encode("task");
        public static readonly JsonEncodedText Method = JsonEncodedText.Encode("method");
        public static readonly JsonEncodedText Host = JsonEncodedText.Encode("host");
        public static readonly JsonEncodedText Path = JsonEncodedText.Encode("path");
        public static readonly JsonEncodedText Status = JsonEncodedText.Encode("status");
        public static readonly JsonEncodedText DurationMs = JsonEncodedText.Encode("durationMs");
        public static readonly JsonEncodedText UpstreamMs = JsonEncodedText.Encode("upstreamMs");
        public static readonly JsonEncodedText BytesIn = JsonEncodedText.Encode("bytesIn");
        public static readonly JsonEncodedText BytesOut = JsonEncodedText.Encode("bytesOut");
        public static readonly JsonEncodedText ClientIp = JsonEncodedText.Encode("clientIp");
        public static readonly JsonEncodedText UserAgent = JsonEncodedText.Encode("userAgent");
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "access log: cannot write {Path}: {Reason}; lines are dropped (flotilla_access_log_dropped_total) until a write succeeds")]
    private partial void LogCannotWrite(string path, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "access log: writing {Path} again; {Dropped} lines were dropped while it failed")]
    private partial void LogWritingAgain(string path, long dropped);
}
