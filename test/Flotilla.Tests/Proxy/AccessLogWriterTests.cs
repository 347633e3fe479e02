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

    public void Dispose() => File.Delete(_path);

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
