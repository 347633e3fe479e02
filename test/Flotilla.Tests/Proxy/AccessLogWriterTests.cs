using System.Diagnostics;
using System.Net;
using System.Text.Json;
using Flotilla.Core.Spec;
using Flotilla.Proxy.AccessLog;
using Flotilla.Proxy.Forwarding;

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
