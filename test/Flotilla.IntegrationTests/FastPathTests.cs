using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Flotilla.IntegrationTests.Infrastructure;
using Flotilla.Runtime;

namespace Flotilla.IntegrationTests;

/// <summary>One task behind two listeners on the same service: "web" on the fast path, "yarp" with <c>fastPath: false</c>.</summary>
public sealed class FastPathFleet : IAsyncLifetime
{
    internal static readonly string Spec = Specs.Fleet(
        """
        listeners:
          - name: web
            listen: 127.0.0.1:0
            rules: &rules
              - path: { exact: /fixed }
                fixedResponse: { status: 503, body: down for maintenance, contentType: text/html; charset=utf-8 }
              - path: { exact: /empty }
                fixedResponse: { status: 204 }
              - path: /moved/*
                redirect: { status: 301, location: "#{scheme}://#{host}:#{port}/new#{path}#{query}" }
              - service: shop
          - name: yarp
            listen: 127.0.0.1:0
            fastPath: false
            rules: *rules
        """,
        Specs.Shop("shop", 1));

    internal FlotillaInstance Flotilla { get; private set; } = null!;

    public async ValueTask InitializeAsync()
    {
        Flotilla = await FlotillaInstance.StartAsync(Spec);
        await Flotilla.WaitForHealthyAsync("shop", 1);
    }

    public async ValueTask DisposeAsync() => await Flotilla.DisposeAsync();
}

/// <summary>
/// The HTTP/1.1 fast path where it differs from the Kestrel + YARP path in how it works: raw connections that pipeline
/// requests or switch paths mid-connection, keep-alive connections to tasks that the tasks close, and the same request
/// seen by the task through either path. (Every other data-plane test runs on the fast path too: it is the default.)
/// </summary>
public sealed class FastPathTests(FastPathFleet fleet) : IClassFixture<FastPathFleet>
{
    // A task that closes keep-alive connections after 1s idle, as a server with a short keep-alive timeout does.
    private const string ShortKeepAlive = """
        import http.server, os
        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            timeout = 1
            def do_GET(self):
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")
            def log_message(self, *args):
                pass
        http.server.ThreadingHTTPServer(("127.0.0.1", int(os.environ["PORT"])), Handler).serve_forever()
        """;

    // A task with one large response: 32 MiB of a known pattern, more than the client's and the proxy's socket buffers.
    private const string LargeResponse = """
        import http.server, os
        BODY = (bytes(range(251)) * (32 * 1024 * 1024 // 251 + 1))[:32 * 1024 * 1024]
        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            def do_GET(self):
                body = BODY if self.path == "/big" else b"ok"
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            def log_message(self, *args):
                pass
        http.server.ThreadingHTTPServer(("127.0.0.1", int(os.environ["PORT"])), Handler).serve_forever()
        """;

    private static CancellationToken Cancel => TestContext.Current.CancellationToken;

    /// <summary>A fleet of one python3 task "py" running <paramref name="script"/>, behind listener "web".</summary>
    private static string PythonFleet(string script) => Specs.Fleet(Specs.Web("py"), $$"""
          py:
            command: ["python3", "-c", {{JsonSerializer.Serialize(script)}}]
            desired: 1
            health: { path: /, interval: 1s, timeout: 500ms, healthyThreshold: 2, unhealthyThreshold: 3 }
        """);

    /// <summary>Sends <paramref name="requests"/> in one write and reads until the server closes (the last asks it to).</summary>
    private static async Task<string> RawAsync(string listener, string requests)
    {
        using var client = await SendRawAsync(listener, requests);
        return await ReadToEndAsync(client.GetStream());
    }

    /// <summary>Connects <paramref name="client"/> (a new one if null) to the listener and sends <paramref name="text"/>, HOST replaced by the listener's authority.</summary>
    private static async Task<TcpClient> SendRawAsync(string listener, string text, TcpClient? client = null)
    {
        var uri = new Uri(listener);
        client ??= new TcpClient();
        try
        {
            await client.ConnectAsync(IPAddress.Loopback, uri.Port, Cancel);
            await client.GetStream().WriteAsync(Encoding.ASCII.GetBytes(text.Replace("HOST", uri.Authority, StringComparison.Ordinal)), Cancel);
            return client;
        }
        catch
        {
            client.Dispose();
            throw;
        }
    }

    private static async Task<string> ReadToEndAsync(Stream stream)
    {
        using var reader = new StreamReader(stream, Encoding.ASCII);
        return await reader.ReadToEndAsync(Cancel);
    }

    private static void AssertInOrder(string text, params string[] parts)
    {
        var at = 0;
        foreach (var part in parts)
        {
            var found = text.IndexOf(part, at, StringComparison.Ordinal);
            Assert.True(found >= 0, $"expected {part} after position {at} in:\n{text}");
            at = found + part.Length;
        }
    }

    [Fact(Timeout = 120_000)]
    public async Task Pipelined_RequestsInOneWrite_AreAnsweredInOrder()
    {
        var flotilla = fleet.Flotilla;

        var text = await RawAsync(flotilla.Listener(), string.Concat(
            "GET /echo?n=1 HTTP/1.1\r\nHost: HOST\r\n\r\n",
            "HEAD /echo?n=2 HTTP/1.1\r\nHost: HOST\r\n\r\n",
            "GET /echo?n=3 HTTP/1.1\r\nHost: HOST\r\nConnection: close\r\n\r\n"));

        AssertInOrder(text, "HTTP/1.1 200 OK", "\"query\":\"?n=1\"", "HTTP/1.1 200 OK", "HTTP/1.1 200 OK", "Connection: close", "\"query\":\"?n=3\"");
        Assert.DoesNotContain("?n=2", text, StringComparison.Ordinal);
        Assert.Equal(3, text.Split("X-Request-Id: ").Length - 1);
    }

    [Fact(Timeout = 120_000)]
    public async Task DeclinedRequest_TheConnectionGoesOnInKestrel_FromThatRequest()
    {
        var flotilla = fleet.Flotilla;

        // The chunked upload is not the fast path's: it and everything after it on the connection go through YARP.
        var text = await RawAsync(flotilla.Listener(), string.Concat(
            "GET /echo?n=1 HTTP/1.1\r\nHost: HOST\r\n\r\n",
            "POST /upload HTTP/1.1\r\nHost: HOST\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n",
            "GET /echo?n=3 HTTP/1.1\r\nHost: HOST\r\nConnection: close\r\n\r\n"));

        AssertInOrder(text, "\"query\":\"?n=1\"", "\"bytes\":11", "\"query\":\"?n=3\"");
        var ids = Regex.Matches(text, @"X-Request-Id: (\w+)").Select(m => m.Groups[1].Value).ToList();
        Assert.Equal(3, ids.Count);
        var logged = await Eventually.Until(
            () => Task.FromResult(flotilla.AccessLog().Where(l => ids.Contains(l.GetProperty("requestId").GetString()!)).ToList()),
            lines => lines.Count == 3,
            TimeSpan.FromSeconds(10),
            "the 3 requests in the access log");
        Assert.Equal(["/echo", "/upload", "/echo"], logged.Select(l => l.GetProperty("path").GetString()));
        Assert.All(logged, l => Assert.Equal(200, l.GetProperty("status").GetInt32()));

        // The hand-over is counted on /metrics with its reason.
        await Eventually.Until(
            () => flotilla.Http.GetStringAsync(flotilla.Admin.Url + "/metrics", Cancel),
            metrics => Regex.IsMatch(metrics, @"flotilla_fastpath_handovers_total\{[^}]*listener=""web"",reason=""transfer-encoding header""[^}]*\} [1-9]"),
            TimeSpan.FromSeconds(10),
            "the hand-over counted in flotilla_fastpath_handovers_total");
    }

    [Fact(Timeout = 120_000)]
    public async Task ClientHalfClosesAfterItsRequests_TheyAreStillAnswered()
    {
        using var client = await SendRawAsync(fleet.Flotilla.Listener(), "GET /echo?n=1 HTTP/1.1\r\nHost: HOST\r\n\r\nGET /echo?n=2 HTTP/1.1\r\nHost: HOST\r\n\r\n");
        var stream = client.GetStream();
        client.Client.Shutdown(SocketShutdown.Send);

        var text = await ReadToEndAsync(stream);

        AssertInOrder(text, "HTTP/1.1 200 OK", "\"query\":\"?n=1\"", "HTTP/1.1 200 OK", "\"query\":\"?n=2\"");
    }

    [Fact(Timeout = 120_000)]
    public async Task BodyArrivesAfterTheHead_TheRequestWaitsForIt()
    {
        using var client = await SendRawAsync(fleet.Flotilla.Listener(), "POST /upload HTTP/1.1\r\nHost: HOST\r\nContent-Length: 11\r\nConnection: close\r\n\r\nhello");

        // The scenario itself, not a wait for a condition: the rest of the body comes later, in its own segment.
        await Task.Delay(TimeSpan.FromMilliseconds(300), Cancel);
        await client.GetStream().WriteAsync(" world"u8.ToArray(), Cancel);
        var text = await ReadToEndAsync(client.GetStream());

        AssertInOrder(text, "HTTP/1.1 200 OK", "\"bytes\":11");
    }

    [Fact(Timeout = 120_000)]
    public async Task HeadArrivesInTwoSegments_TheFastPathWaitsForTheRest()
    {
        var before = await HandOversAsync(fleet.Flotilla);
        var cookie = new string('c', 4000);
        using var client = await SendRawAsync(fleet.Flotilla.Listener(), "GET /echo HTTP/1.1\r\nHost: HOST\r\nCookie: big=");

        // The scenario itself, not a wait for a condition: the rest of the head (as with large cookies over a real
        // network) comes later, in its own segment.
        await Task.Delay(TimeSpan.FromMilliseconds(300), Cancel);
        await client.GetStream().WriteAsync(Encoding.ASCII.GetBytes(cookie + "\r\nConnection: close\r\n\r\n"), Cancel);
        var text = await ReadToEndAsync(client.GetStream());

        AssertInOrder(text, "HTTP/1.1 200 OK", "\"path\":\"/echo\"", "big=" + cookie);

        await AssertNoHandOverSinceAsync(fleet.Flotilla, before);
    }

    /// <summary>
    /// Listener "web" has handed nothing over since it had handed over <paramref name="before"/>: one known hand-over
    /// (a chunked upload) is then the only one counted, which also shows that /metrics is up to date.
    /// </summary>
    private static async Task AssertNoHandOverSinceAsync(FlotillaInstance flotilla, double before)
    {
        AssertInOrder(await RawAsync(flotilla.Listener("web"), "POST /upload HTTP/1.1\r\nHost: HOST\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n0\r\n\r\n"), "HTTP/1.1 200 OK");
        await Eventually.Until(() => HandOversAsync(flotilla), count => count > before, TimeSpan.FromSeconds(10), "the chunked upload's hand-over counted");
        Assert.Equal(before + 1, await HandOversAsync(flotilla));
    }

    /// <summary>The connections listener "web" has handed over so far, for any reason, from <c>/metrics</c>.</summary>
    private static async Task<double> HandOversAsync(FlotillaInstance flotilla)
    {
        var metrics = await flotilla.Http.GetStringAsync(flotilla.Admin.Url + "/metrics", Cancel);
        return Regex.Matches(metrics, @"^flotilla_fastpath_handovers_total\{[^}]*listener=""web""[^}]*\} (\S+)", RegexOptions.Multiline)
            .Sum(m => double.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture));
    }

    [Fact(Timeout = 120_000)]
    public async Task ClientReadsSlowly_TheLargeResponseArrivesWhole()
    {
        await using var flotilla = await FlotillaInstance.StartAsync(PythonFleet(LargeResponse));
        await flotilla.WaitForHealthyAsync("py", 1);
        using var client = await SendRawAsync(flotilla.Listener(), "GET /big HTTP/1.1\r\nHost: HOST\r\nConnection: close\r\n\r\n", new TcpClient { ReceiveBufferSize = 64 * 1024 });

        // Not reading for a while fills every buffer between the task and this client, so the load balancer must stop
        // reading from the task and go on once the client reads again.
        await Task.Delay(TimeSpan.FromSeconds(1), Cancel);
        var received = new MemoryStream();
        await client.GetStream().CopyToAsync(received, Cancel);

        var bytes = received.ToArray();
        var headEnd = bytes.AsSpan().IndexOf("\r\n\r\n"u8) + 4;
        Assert.StartsWith("HTTP/1.1 200 OK", Encoding.ASCII.GetString(bytes, 0, headEnd), StringComparison.Ordinal);
        var body = bytes.AsSpan(headEnd);
        Assert.Equal(32 * 1024 * 1024, body.Length);
        for (var i = 0; i < body.Length; i += 4093)
        {
            Assert.True(body[i] == i % 251, $"byte {i} of the body is {body[i]}, expected {i % 251}");
        }
    }

    [Fact(Timeout = 120_000)]
    public async Task Sigterm_ARequestInFlightIsAnsweredBeforeFlotillaExits()
    {
        await using var flotilla = await FlotillaInstance.StartAsync(Specs.Fleet(Specs.Web("shop"), Specs.Shop("shop", 1)));
        await flotilla.WaitForHealthyAsync("shop", 1);

        var slow = flotilla.Http.GetAsync(flotilla.Listener() + "/work?ms=3000", Cancel);
        await Eventually.Until(async () => (await flotilla.TargetsAsync("shop")).Targets.Sum(t => t.InFlight), n => n == 1, TimeSpan.FromSeconds(10), "the long request in flight");
        flotilla.Process.Signal(PosixSignals.SigTerm);

        using var response = await slow;
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.True(response.Headers.ConnectionClose, "the last response on a stopping listener says Connection: close");
        Assert.Contains("waitedMs", await response.Content.ReadAsStringAsync(Cancel), StringComparison.Ordinal);
        Assert.Equal(0, await flotilla.Process.Exited.WaitAsync(TimeSpan.FromSeconds(60), Cancel));
    }

    [Fact(Timeout = 120_000)]
    public async Task FastPathTurnedOnByApply_NewConnectionsTakeIt()
    {
        var on = Specs.Fleet(Specs.Web("shop"), Specs.Shop("shop", 1));
        var off = on.Replace("    rules:\n", "    fastPath: false\n    rules:\n", StringComparison.Ordinal);
        Assert.NotEqual(on, off);
        await using var flotilla = await FlotillaInstance.StartAsync(off);
        await flotilla.WaitForHealthyAsync("shop", 1);
        const string Upload = "POST /upload HTTP/1.1\r\nHost: HOST\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n5\r\nhello\r\n0\r\n\r\n";
        const string HandedOver = @"flotilla_fastpath_handovers_total\{[^}]*listener=""web"",reason=""transfer-encoding header""[^}]*\} [1-9]";

        // Off: the connection is Kestrel's from the start, so nothing is handed over (or counted).
        AssertInOrder(await RawAsync(flotilla.Listener(), Upload), "HTTP/1.1 200 OK", "\"bytes\":5");
        Assert.DoesNotMatch(HandedOver, await flotilla.Http.GetStringAsync(flotilla.Admin.Url + "/metrics", Cancel));

        await File.WriteAllTextAsync(Path.Combine(flotilla.Directory, "on.yaml"), on, Cancel);
        var (code, output) = await flotilla.CliAsync("apply", "on.yaml");
        Assert.True(code == 0, output);

        // On: a new connection starts on the fast path, which hands the chunked upload over.
        AssertInOrder(await RawAsync(flotilla.Listener(), Upload), "HTTP/1.1 200 OK", "\"bytes\":5");
        await Eventually.Until(
            () => flotilla.Http.GetStringAsync(flotilla.Admin.Url + "/metrics", Cancel),
            metrics => Regex.IsMatch(metrics, HandedOver),
            TimeSpan.FromSeconds(10),
            "the hand-over counted once the fast path is on");
    }

    [Fact(Timeout = 120_000)]
    public async Task TaskClosesIdleKeepAliveConnections_NextRequestsStillSucceed()
    {
        await using var flotilla = await FlotillaInstance.StartAsync(PythonFleet(ShortKeepAlive));
        await flotilla.WaitForHealthyAsync("py", 1);

        for (var i = 0; i < 3; i++)
        {
            using var response = await flotilla.Http.GetAsync(flotilla.Listener() + "/", Cancel);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);

            // Not a wait for a condition but the scenario itself: time past the task's 1s idle timeout, after which it has
            // closed the connection the fast path pooled (nothing outside the two processes can see that happen).
            await Task.Delay(TimeSpan.FromSeconds(2), Cancel);
        }
    }

    [Fact(Timeout = 120_000)]
    public async Task SameRequest_BothPaths_TheTaskSeesTheSameHeaders()
    {
        var flotilla = fleet.Flotilla;

        async Task<Dictionary<string, string>> EchoAsync(string listener)
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, flotilla.Listener(listener) + "/echo?x=1");
            request.Headers.TryAddWithoutValidation("X-Forwarded-For", "203.0.113.9");
            request.Headers.TryAddWithoutValidation("X-Request-Id", "from-the-client");
            request.Headers.TryAddWithoutValidation("traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01");
            request.Headers.TryAddWithoutValidation("Keep-Alive", "timeout=5");
            request.Headers.TryAddWithoutValidation("X-Custom", "a, b");
            using var response = await flotilla.Http.SendAsync(request, Cancel);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.True(response.Headers.Contains("X-Request-Id"));
            var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync(Cancel)).RootElement;
            Assert.Equal("?x=1", body.GetProperty("query").GetString());
            return body.GetProperty("headers").EnumerateObject().ToDictionary(p => p.Name.ToLowerInvariant(), p => p.Value.GetString() ?? "");
        }

        var fast = await EchoAsync("web");
        var yarp = await EchoAsync("yarp");

        Assert.Equal(yarp.Keys.Order(), fast.Keys.Order());
        foreach (var name in new[] { "x-forwarded-for", "x-forwarded-proto", "x-custom" })
        {
            Assert.Equal(yarp[name], fast[name]);
        }

        Assert.Equal("127.0.0.1", fast["x-forwarded-for"]);
        Assert.StartsWith("00-0af7651916cd43dd8448eb211c80319c-", fast["traceparent"], StringComparison.Ordinal);
        Assert.NotEqual("from-the-client", fast["x-request-id"]);
        Assert.Equal(new Uri(flotilla.Listener("web")).Authority, fast["host"]);
    }

    [Fact(Timeout = 120_000)]
    public async Task Expect100Continue_BothPaths_TellTheClientToSendItsBody_TheFastPathWithoutAHandOver()
    {
        var flotilla = fleet.Flotilla;
        var before = await HandOversAsync(flotilla);
        foreach (var listener in new[] { "web", "yarp" })
        {
            using var client = await SendRawAsync(flotilla.Listener(listener), "POST /upload HTTP/1.1\r\nHost: HOST\r\nContent-Length: 5\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n");
            var stream = client.GetStream();

            // As curl does: the body waits for the 100. A proxy that waited for the body first would never answer.
            using var bound = CancellationTokenSource.CreateLinkedTokenSource(Cancel);
            bound.CancelAfter(TimeSpan.FromSeconds(10));
            var interim = new byte["HTTP/1.1 100 Continue\r\n\r\n".Length];
            try
            {
                await stream.ReadExactlyAsync(interim, bound.Token);
            }
            catch (OperationCanceledException) when (!Cancel.IsCancellationRequested)
            {
                Assert.Fail($"{listener}: no 100 Continue within 10s for a client that waits for it before sending its body");
            }

            Assert.Equal("HTTP/1.1 100 Continue\r\n\r\n", Encoding.ASCII.GetString(interim));
            await stream.WriteAsync("hello"u8.ToArray(), Cancel);
            AssertInOrder(await ReadToEndAsync(stream), "HTTP/1.1 200 OK", "\r\n\r\n", "5");
        }

        await AssertNoHandOverSinceAsync(flotilla, before);
    }

    [Fact(Timeout = 120_000)]
    public async Task FixedResponsesAndRedirects_BothPaths_AnswerTheSame_TheFastPathWithoutAHandOver()
    {
        var flotilla = fleet.Flotilla;
        var before = await HandOversAsync(flotilla);
        string[] requests =
        [
            "GET /fixed HTTP/1.1\r\nHost: HOST\r\n\r\n",
            "HEAD /fixed HTTP/1.1\r\nHost: HOST\r\n\r\n",
            "POST /fixed HTTP/1.1\r\nHost: HOST\r\nContent-Length: 5\r\n\r\nhello",
            "GET /empty HTTP/1.1\r\nHost: HOST\r\n\r\n",
            "GET /moved/a/b?c=1&d HTTP/1.1\r\nHost: HOST\r\nConnection: close\r\n\r\n",
        ];

        // All on one connection each way: the fast path keeps it (a hand-over would send the rest to Kestrel too).
        var fast = Normalize(await RawAsync(flotilla.Listener("web"), string.Concat(requests)), flotilla.Listener("web"));
        var yarp = Normalize(await RawAsync(flotilla.Listener("yarp"), string.Concat(requests)), flotilla.Listener("yarp"));

        Assert.Equal(yarp, fast);
        Assert.Equal(5, fast.Count(r => r.StartsWith("HTTP/1.1 ", StringComparison.Ordinal)));
        AssertInOrder(string.Join("\n", fast),
            "HTTP/1.1 503 Service Unavailable", "Content-Type: text/html; charset=utf-8", "down for maintenance",
            "HTTP/1.1 204 No Content",
            "HTTP/1.1 301 Moved Permanently", "Location: http://LISTENER/new/moved/a/b?c=1&d");
        await AssertNoHandOverSinceAsync(flotilla, before);

        // Each response: its status line, its headers sorted (Date and the request id vary), its body; the listener's
        // authority replaced, so that the two listeners' answers compare.
        static List<string> Normalize(string text, string listener)
        {
            var responses = new List<string>();
            foreach (var part in Regex.Split(text.Replace(new Uri(listener).Authority, "LISTENER", StringComparison.Ordinal), "(?=HTTP/1\\.1 \\d{3} )"))
            {
                if (part.Length == 0)
                {
                    continue;
                }

                var end = part.IndexOf("\r\n\r\n", StringComparison.Ordinal);
                var lines = part[..end].Split("\r\n");
                var headers = lines[1..].Where(l => !l.StartsWith("Date:", StringComparison.OrdinalIgnoreCase) && !l.StartsWith("X-Request-Id:", StringComparison.OrdinalIgnoreCase)).Order(StringComparer.Ordinal);
                responses.Add(string.Join("\n", [lines[0], .. headers, part[(end + 4)..]]));
            }

            return responses;
        }
    }
}
