using System.Buffers;
using System.Diagnostics;
using System.Net;
using System.Text;
using System.Text.Json;
using Flotilla.Core.Spec;
using Flotilla.Proxy.AccessLog;
using Flotilla.Proxy.Forwarding;
using Flotilla.Proxy.Targets;
using Microsoft.Extensions.Logging;

namespace Flotilla.Tests.Proxy;

public sealed class AccessLogWriterTests : IDisposable
{
    private readonly string _path = Path.Combine(Path.GetTempPath(), $"flotilla-access-{Guid.NewGuid():N}.log");

    public void Dispose()
    {
        foreach (var file in Directory.GetFiles(Path.GetDirectoryName(_path)!, Path.GetFileName(_path) + "*"))
        {
            File.Delete(file);
        }

        if (Directory.Exists(_path + ".1"))
        {
            Directory.Delete(_path + ".1");
        }
    }

    [Fact]
    public async Task Write_PastMaxSize_RotatesIntoNumberedFiles_KeepsMaxFiles_AndSplitsNoLine()
    {
        const int Requests = 2_000; // about 700 KB of lines: some 14 files of 50 KB, of which the newest 4 are kept
        var writer = new AccessLogWriter(new AccessLogSpec { MaxSize = 50_000, MaxFiles = 3 }, _path);
        for (var i = 0; i < Requests; i++)
        {
            writer.Write(Request($"r{i}"));
        }

        await writer.DisposeAsync();

        string[] oldestFirst = [_path + ".3", _path + ".2", _path + ".1", _path];
        Assert.False(File.Exists(_path + ".4"));
        Assert.All(oldestFirst, file => Assert.InRange(new FileInfo(file).Length, 1, 50_000));
        var lines = oldestFirst.SelectMany(File.ReadLines).ToList();
        var longest = lines.Max(line => line.Length + 1);
        Assert.All(oldestFirst[..^1], file => Assert.InRange(new FileInfo(file).Length, 50_000 - longest + 1, 50_000));
        var numbers = lines.Select(line => int.Parse(JsonDocument.Parse(line).RootElement.GetProperty("requestId").GetString()![1..])).ToList();
        Assert.Equal(0, writer.Dropped);
        Assert.Equal(Enumerable.Range(Requests - numbers.Count, numbers.Count), numbers);
    }

    [Fact]
    public async Task Write_AFileLeftFromBefore_CountsTowardsItsSize()
    {
        var before = new string('x', 49_999) + "\n";
        await File.WriteAllTextAsync(_path, before, TestContext.Current.CancellationToken);
        var writer = new AccessLogWriter(new AccessLogSpec { MaxSize = 50_000 }, _path);
        writer.Write(Request("r0"));

        await writer.DisposeAsync();

        Assert.Equal(before, await File.ReadAllTextAsync(_path + ".1", TestContext.Current.CancellationToken));
        Assert.Equal("r0", JsonDocument.Parse(Assert.Single(File.ReadLines(_path))).RootElement.GetProperty("requestId").GetString());
    }

    [Fact]
    public async Task Write_AFileLeftCutShort_EndsItsLastLineFirst()
    {
        await File.WriteAllTextAsync(_path, "{\"time\":", TestContext.Current.CancellationToken);
        var writer = new AccessLogWriter(new AccessLogSpec(), _path);
        writer.Write(Request("r0"));

        await writer.DisposeAsync();

        var lines = File.ReadAllLines(_path);
        Assert.Equal(["{\"time\":", lines[1]], lines);
        Assert.Equal("r0", JsonDocument.Parse(lines[1]).RootElement.GetProperty("requestId").GetString());
    }

    [Fact]
    public async Task Write_AfterMaxFilesWasLowered_DeletesTheRotatedFilesAboveIt()
    {
        await File.WriteAllTextAsync(_path, new string('x', 99) + "\n", TestContext.Current.CancellationToken);
        for (var i = 1; i <= 5; i++)
        {
            await File.WriteAllTextAsync($"{_path}.{i}", $"file {i}\n", TestContext.Current.CancellationToken);
        }

        var writer = new AccessLogWriter(new AccessLogSpec { MaxSize = 100, MaxFiles = 2 }, _path);
        writer.Write(Request("r0"));

        await writer.DisposeAsync();

        Assert.Equal(new string('x', 99) + "\n", await File.ReadAllTextAsync(_path + ".1", TestContext.Current.CancellationToken));
        Assert.Equal("file 1\n", await File.ReadAllTextAsync(_path + ".2", TestContext.Current.CancellationToken));
        Assert.All([3, 4, 5], i => Assert.False(File.Exists($"{_path}.{i}")));
        Assert.Equal("r0", JsonDocument.Parse(Assert.Single(File.ReadLines(_path))).RootElement.GetProperty("requestId").GetString());
    }

    [Fact]
    public async Task Write_WhenAWriteFails_DropsAndCountsThoseLines_LogsOnce_AndWritesAgainWhenItCan()
    {
        // A directory where the rotation must put access.log.1: the rename fails as on a broken disk, until it is removed.
        Directory.CreateDirectory(_path + ".1");
        var log = new RecordingLogger();
        var writer = new AccessLogWriter(new AccessLogSpec { MaxSize = 2_000, MaxFiles = 1 }, _path, log);
        for (var i = 0; i < 20; i++)
        {
            writer.Write(Request($"r{i}")); // about 6,000 bytes: the first 2,000 fill the file, then it must rotate
        }

        await log.Logged(LogLevel.Error).WaitAsync(TimeSpan.FromSeconds(30), TestContext.Current.CancellationToken);
        Directory.Delete(_path + ".1");
        for (var i = 20; i < 25; i++)
        {
            writer.Write(Request($"r{i}"));
        }

        await log.Logged(LogLevel.Information).WaitAsync(TimeSpan.FromSeconds(30), TestContext.Current.CancellationToken);
        await writer.DisposeAsync();

        var error = Assert.Single(log.Messages, m => m.Level == LogLevel.Error);
        Assert.Contains($"cannot write {_path}", error.Text);
        var again = Assert.Single(log.Messages, m => m.Level == LogLevel.Information);
        Assert.Contains($"{writer.Dropped} lines were dropped", again.Text);
        Assert.InRange(writer.Dropped, 1, 19);
        var written = File.ReadLines(_path + ".1").Concat(File.ReadLines(_path))
            .Select(line => int.Parse(JsonDocument.Parse(line).RootElement.GetProperty("requestId").GetString()![1..])).ToList();
        Assert.Equal(25, written.Count + writer.Dropped);
        Assert.Equal(written.Order(), written);
        Assert.Equal(Enumerable.Range(20, 5), written.TakeLast(5)); // every line after the failure was written
    }

    [Fact]
    public async Task Apply_TurnedOffThenOnWithASmallerSize_TakesNoLineWhileOff_AndRotatesAtTheNewSize()
    {
        var writer = new AccessLogWriter(new AccessLogSpec(), _path);
        writer.Write(Request("r0"));
        writer.Apply(new AccessLogSpec { Enabled = false });
        writer.Write(Request("r1"));
        Assert.False(writer.Enabled);

        writer.Apply(new AccessLogSpec { MaxSize = 1_000, MaxFiles = 10 });
        for (var i = 2; i < 12; i++)
        {
            writer.Write(Request($"r{i}")); // about 3,000 bytes: rotated at 1,000
        }

        await writer.DisposeAsync();

        string[] files = [.. Enumerable.Range(1, 10).Select(i => $"{_path}.{i}").Where(File.Exists).Reverse(), _path]; // oldest first
        Assert.True(files.Length >= 3, string.Join(", ", files));
        Assert.All(files, file => Assert.InRange(new FileInfo(file).Length, 1, 1_000));
        var ids = files.SelectMany(File.ReadLines).Select(line => JsonDocument.Parse(line).RootElement.GetProperty("requestId").GetString()).ToList();
        Assert.Equal(["r0", .. Enumerable.Range(2, 10).Select(i => $"r{i}")], ids);
        Assert.Equal(0, writer.Dropped);
    }

    [Fact]
    public async Task Dispose_WritesEveryQueuedLineInOrder_AndCountsWhatDidNotFit()
    {
        const int Requests = 100_000; // more than the queue holds, and many 60 KB flushes within one batch
        var writer = new AccessLogWriter(new AccessLogSpec(), _path);
        for (var i = 0; i < Requests; i++)
        {
            writer.Write(Request($"r{i}"));
        }

        await writer.DisposeAsync();

        var ids = File.ReadLines(_path).Select(line => JsonDocument.Parse(line).RootElement.GetProperty("requestId").GetString()!).ToList();
        Assert.Equal(Requests, ids.Count + writer.Dropped);
        Assert.Equal(ids.Select(id => int.Parse(id[1..])).Order(), ids.Select(id => int.Parse(id[1..])));
        Assert.Equal(ids.Count, ids.Distinct().Count());
    }

    [Fact]
    public async Task Disabled_WritesNoFile()
    {
        var writer = new AccessLogWriter(new AccessLogSpec { Enabled = false }, _path);
        writer.Write(Request("r0"));

        await writer.DisposeAsync();

        Assert.False(File.Exists(_path));
        Assert.Equal(0, writer.Dropped);
    }

    [Fact]
    public void Format_WritesEveryField_EscapesWhatClientsSent_AndTimesToTheMicrosecond()
    {
        var start = Stopwatch.GetTimestamp();
        var request = new ProxyRequest
        {
            Listener = "web",
            StartTimestamp = start,
            StartTime = new DateTimeOffset(2026, 11, 23, 9, 30, 15, 250, TimeSpan.Zero),
            RequestId = "r-1",
            Address = IPAddress.Parse("2001:db8::7"),
            FromTrustedProxy = false,
            Scheme = "http",
            Trace = TraceContext.Continue("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", default),
            Method = "POST",
            Host = "shop.example.com",
            Path = "/a\"b\\c\n/é/<x>",
            UserAgent = "curl/8 \u0001",
            Service = "shop",
            Target = new Target("shop-3", "shop", 1, 4000, 0, TimeSpan.Zero, Stopwatch.Frequency),
            StatusCode = 201,
            EndTimestamp = start + Stopwatch.Frequency * 120_345 / 10_000_000, // 120,345 ticks = 12.0345 ms: 12.035 to the microsecond (half up)
            UpstreamTime = TimeSpan.FromMilliseconds(3),
            BytesIn = 12,
            BytesOut = 3_456_789_012,
        };
        var line = Line(request);
        var fields = JsonDocument.Parse(line).RootElement.EnumerateObject().ToDictionary(p => p.Name, p => p.Value.ValueKind == JsonValueKind.Null ? "null" : p.Value.ToString());
        Assert.Equal(
            new Dictionary<string, string>
            {
                ["time"] = "2026-11-23T09:30:15.25+00:00", ["requestId"] = "r-1", ["traceId"] = "0af7651916cd43dd8448eb211c80319c",
                ["listener"] = "web", ["rule"] = "null", ["service"] = "shop", ["task"] = "shop-3", ["method"] = "POST",
                ["host"] = "shop.example.com", ["path"] = "/a\"b\\c\n/é/<x>", ["status"] = "201", ["durationMs"] = "12.035",
                ["upstreamMs"] = "3", ["bytesIn"] = "12", ["bytesOut"] = "3456789012", ["clientIp"] = "2001:db8::7",
                ["userAgent"] = "curl/8 \u0001",
            },
            fields);
        Assert.Contains("\"durationMs\":12.035,\"upstreamMs\":3,", line);
        Assert.DoesNotContain('\n', line);
    }

    [Theory]
    [InlineData(0, "0")]
    [InlineData(4, "0")]
    [InlineData(5, "0.001")]
    [InlineData(1_000, "0.1")]
    [InlineData(10_000, "1")]
    [InlineData(10_010, "1.001")]
    [InlineData(123_456_789, "12345.679")]
    public void Format_WritesMillisecondsAsTheShortestNumber(long ticks, string expected)
    {
        var request = Request("r0");
        request.Target = new Target("shop-1", "shop", 1, 4000, 0, TimeSpan.Zero, Stopwatch.Frequency);
        request.UpstreamTime = TimeSpan.FromTicks(ticks);
        Assert.Contains($"\"upstreamMs\":{expected},", Line(request));
    }

    private sealed class RecordingLogger : ILogger
    {
        private readonly Lock _lock = new();
        private readonly List<(LogLevel Level, string Text)> _messages = [];
        private readonly Dictionary<LogLevel, TaskCompletionSource> _logged = [];

        public IReadOnlyList<(LogLevel Level, string Text)> Messages
        {
            get
            {
                lock (_lock)
                {
                    return [.. _messages];
                }
            }
        }

        /// <summary>Completes when a message of the level has been logged.</summary>
        public Task Logged(LogLevel level)
        {
            lock (_lock)
            {
                return Waiter(level).Task;
            }
        }

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            lock (_lock)
            {
                _messages.Add((logLevel, formatter(state, exception)));
                Waiter(logLevel).TrySetResult();
            }
        }

        public bool IsEnabled(LogLevel logLevel) => true;

        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        private TaskCompletionSource Waiter(LogLevel level) =>
            _logged.TryGetValue(level, out var waiter) ? waiter : _logged[level] = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    private static string Line(ProxyRequest request)
    {
        var buffer = new ArrayBufferWriter<byte>();
        using (var json = new Utf8JsonWriter(buffer))
        {
            AccessLogWriter.Format(request, json);
        }

        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    private static ProxyRequest Request(string id) => new()
    {
        Listener = "web",
        StartTimestamp = Stopwatch.GetTimestamp(),
        StartTime = DateTimeOffset.UnixEpoch,
        RequestId = id,
        Address = IPAddress.Loopback,
        FromTrustedProxy = false,
        Scheme = "http",
        Trace = TraceContext.Continue(default, default),
        Method = "GET",
        Path = "/",
    };
}
