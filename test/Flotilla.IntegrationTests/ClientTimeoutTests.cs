using System.Net.Sockets;
using System.Text;
using Flotilla.IntegrationTests.Infrastructure;

namespace Flotilla.IntegrationTests;

/// <summary>
/// <c>loadBalancer.keepAliveTimeout</c> and <c>requestTimeout</c>, over raw connections to the same task through both
/// of the load balancer's paths: "web" on the fast path, "yarp" with <c>fastPath: false</c> (Kestrel's limits).
/// </summary>
public sealed class ClientTimeoutTests
{
    /// <summary>Far above the spec's timeouts below, far below the defaults (130s, 30s): what the connection waits for, at most.</summary>
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(20);

    private static CancellationToken Cancel => TestContext.Current.CancellationToken;

    [Fact(Timeout = 120_000)]
    public async Task BothPaths_ASlowHeadGets408_AnIdleConnectionCloses_AndALateBodyGets408AndALogLineOnTheFastPath()
    {
        await using var flotilla = await FlotillaInstance.StartAsync(Specs.Fleet(
            "loadBalancer: { keepAliveTimeout: 4s, requestTimeout: 2s }\n" + Specs.BothPaths("shop"),
            Specs.Shop("shop", 1)));
        await flotilla.WaitForHealthyAsync("shop", 1);

        await Task.WhenAll(new[] { "web", "yarp" }.Select(async listener =>
        {
            // A head that never ends (a slowloris client): 408 once requestTimeout has passed since its first byte, and
            // the connection closes. Its second piece comes within the timeout, and does not restart it.
            using (var client = await RawConnection.OpenAsync(flotilla, listener))
            {
                var stream = client.GetStream();
                await client.SendAsync("GET /health HTTP/1.1\r\nHost: a\r\n");
                await Task.Delay(300, Cancel);
                await client.SendAsync("X-Slow: 1\r\n");
                var answer = await ReadToEndAsync(stream, $"{listener}: the answer to a head that never ends");
                Assert.StartsWith("HTTP/1.1 408 Request Timeout\r\n", answer, StringComparison.Ordinal);
                Assert.Contains("\r\nConnection: close\r\n", answer, StringComparison.Ordinal);
            }

            // A keep-alive connection: a head in two pieces within requestTimeout is served, so is a second request
            // within keepAliveTimeout, and then the idle connection is closed.
            using (var client = await RawConnection.OpenAsync(flotilla, listener))
            {
                var stream = client.GetStream();
                await client.SendAsync("GET /health HTTP/1.1\r\n");
                await Task.Delay(300, Cancel);
                await client.SendAsync("Host: a\r\n\r\n");
                Assert.StartsWith("HTTP/1.1 200 OK\r\n", await ReadResponseAsync(stream), StringComparison.Ordinal);
                await Task.Delay(500, Cancel);
                await client.SendAsync("GET /health HTTP/1.1\r\nHost: a\r\n\r\n");
                Assert.StartsWith("HTTP/1.1 200 OK\r\n", await ReadResponseAsync(stream), StringComparison.Ordinal);
                Assert.Equal("", await ReadToEndAsync(stream, $"{listener}: the close of a connection idle past keepAliveTimeout"));
            }
        }));

        // On the fast path, which buffers small bodies, a body that stops coming gets 408 too; the request was routed, so
        // it is counted and logged. (Kestrel bounds a body by its minimum data rate instead: 240 bytes/s after 5s.)
        using (var client = await RawConnection.OpenAsync(flotilla, "web"))
        {
            var stream = client.GetStream();
            await client.SendAsync("POST /upload HTTP/1.1\r\nHost: a\r\nContent-Length: 100\r\n\r\nonly part of it");
            var answer = await ReadToEndAsync(stream, "the answer to a body that stops coming");
            Assert.StartsWith("HTTP/1.1 408 Request Timeout\r\n", answer, StringComparison.Ordinal);
            var requestId = answer.Split("\r\n").Single(h => h.StartsWith("X-Request-Id: ", StringComparison.Ordinal))["X-Request-Id: ".Length..];
            var line = await Eventually.Until(
                () => Task.FromResult(flotilla.AccessLog().Where(l => l.GetProperty("requestId").GetString() == requestId).ToList()),
                lines => lines.Count == 1,
                TimeSpan.FromSeconds(10),
                "the late body's access-log line");
            Assert.Equal((408, "shop", "/upload", 15), (line[0].GetProperty("status").GetInt32(), line[0].GetProperty("service").GetString(), line[0].GetProperty("path").GetString(), line[0].GetProperty("bytesIn").GetInt32()));
        }
    }

    /// <summary>
    /// One response, read byte by byte so that nothing after it is taken: its head, then its body by its framing; within
    /// <see cref="Bound"/>.
    /// </summary>
    private static async Task<string> ReadResponseAsync(NetworkStream stream)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(Cancel);
        timeout.CancelAfter(Bound);
        var text = new StringBuilder();
        var one = new byte[1];
        async Task ReadUntil(Func<string, bool> done)
        {
            while (!done(text.ToString()))
            {
                try
                {
                    Assert.True(await stream.ReadAsync(one, timeout.Token) == 1, $"the connection closed after: {text}");
                }
                catch (OperationCanceledException) when (!Cancel.IsCancellationRequested)
                {
                    Assert.Fail($"no whole response within {Bound.TotalSeconds}s, having read: {text}");
                }

                text.Append((char)one[0]);
            }
        }

        await ReadUntil(t => t.EndsWith("\r\n\r\n", StringComparison.Ordinal));
        var head = text.ToString();
        var length = head.Split("\r\n").FirstOrDefault(h => h.StartsWith("Content-Length: ", StringComparison.OrdinalIgnoreCase))?["Content-Length: ".Length..];
        await ReadUntil(length is null
            ? t => t.EndsWith("\r\n0\r\n\r\n", StringComparison.Ordinal) // chunked
            : t => t.Length == head.Length + int.Parse(length, System.Globalization.CultureInfo.InvariantCulture));
        return text.ToString();
    }

    /// <summary>Everything until the server closes the connection, which it must do within <see cref="Bound"/>.</summary>
    private static async Task<string> ReadToEndAsync(NetworkStream stream, string what)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(Cancel);
        timeout.CancelAfter(Bound);
        var text = new StringBuilder();
        var buffer = new byte[4096];
        try
        {
            int n;
            while ((n = await stream.ReadAsync(buffer, timeout.Token)) > 0)
            {
                text.Append(Encoding.ASCII.GetString(buffer, 0, n));
            }
        }
        catch (OperationCanceledException) when (!Cancel.IsCancellationRequested)
        {
            Assert.Fail($"{what}: the connection was still open after {Bound.TotalSeconds}s, having sent: {text}");
        }

        return text.ToString();
    }
}
