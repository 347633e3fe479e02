using System.Buffers;
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
    public static void Format(ProxyRequest r, Utf8JsonWriter json)
    {
        json.WriteStartObject();
        json.WriteString("time", r.StartTime);
        json.WriteString("requestId", r.RequestId);
        json.WriteString("traceId", r.Trace.TraceId.ToHexString());
        json.WriteString("listener", r.Listener);
        json.WriteString("rule", r.Rule?.Id);
        json.WriteString("service", r.Service.Length == 0 ? null : r.Service);
        json.WriteString("task", r.Target?.TaskId);
        json.WriteString("method", r.Method);
        json.WriteString("host", r.Host);
        json.WriteString("path", r.Path);
        json.WriteNumber("status", r.StatusCode);
        json.WriteNumber("durationMs", Math.Round(Stopwatch.GetElapsedTime(r.StartTimestamp, r.EndTimestamp).TotalMilliseconds, 3));
        if (r.Target is null)
        {
            json.WriteNull("upstreamMs");
        }
        else
        {
            json.WriteNumber("upstreamMs", Math.Round(r.UpstreamTime.TotalMilliseconds, 3));
        }

        json.WriteNumber("bytesIn", r.BytesIn);
        json.WriteNumber("bytesOut", r.BytesOut);
        json.WriteString("clientIp", r.Address.ToString());
        json.WriteString("userAgent", r.UserAgent);
        json.WriteEndObject();
    }

    private async Task WriteAsync()
    {
        var buffer = new ArrayBufferWriter<byte>(64 * 1024);
        using var json = new Utf8JsonWriter(buffer);
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
                        await AppendAsync(buffer.WrittenMemory[..lineStart]);
                        var line = buffer.WrittenSpan[lineStart..].ToArray();
                        buffer.ResetWrittenCount();
                        buffer.Write(line);
                        Rotate();
                    }

                    if (buffer.WrittenCount >= 60 * 1024)
                    {
                        await FlushAsync(buffer);
                    }
                }

                if (buffer.WrittenCount > 0)
                {
                    await FlushAsync(buffer);
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

    private async Task FlushAsync(ArrayBufferWriter<byte> buffer)
    {
        await AppendAsync(buffer.WrittenMemory);
        buffer.ResetWrittenCount();
    }

    private async Task AppendAsync(ReadOnlyMemory<byte> lines)
    {
        await _file!.WriteAsync(lines);
        await _file.FlushAsync();
        _fileLength += lines.Length;
        if (_spec.Stdout)
        {
            _stdout ??= Console.OpenStandardOutput();
            await _stdout.WriteAsync(lines);
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
            BufferSize = 64 * 1024,
        });
        if (file.Length > 0)
        {
            file.Seek(-1, SeekOrigin.End);
            if (file.ReadByte() != '\n')
            {
                file.Write("\n"u8);
                file.Flush();
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

    [LoggerMessage(Level = LogLevel.Error, Message = "access log: cannot write {Path}: {Reason}; lines are dropped (flotilla_access_log_dropped_total) until a write succeeds")]
    private partial void LogCannotWrite(string path, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "access log: writing {Path} again; {Dropped} lines were dropped while it failed")]
    private partial void LogWritingAgain(string path, long dropped);
}
