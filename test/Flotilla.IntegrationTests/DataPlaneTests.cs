using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Net.WebSockets;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json;
using Flotilla.IntegrationTests.Infrastructure;

namespace Flotilla.IntegrationTests;

/// <summary>
/// One fleet for the load balancer's read-only behaviour: a listener with a rule of every kind (the catch-all written
/// first, the others with priorities), a listener behind a trusted proxy, an https listener with two certificates, and an
/// http listener that redirects to it.
/// </summary>
public sealed class RoutingFleet : IAsyncLifetime
{
    private static readonly string Spec = Specs.Fleet(
        """
        listeners:
          - name: web
            listen: 127.0.0.1:0
            maxBodySize: 1000
            rules:
              - path: /
                service: shop
              - priority: 1
                path: { exact: /exact }
                fixedResponse: { status: 200, body: exact match }
              - priority: 2
                path: /old/*
                redirect: { status: 308, location: "https://#{host}/new#{path}#{query}" }
              - priority: 3
                path: /canary
                forward:
                  - { service: shop, weight: 70 }
                  - { service: other, weight: 30 }
              - priority: 4
                headers: { X-Beta: "on" }
                service: other
              - priority: 5
                path: /only-post
                methods: [POST]
                fixedResponse: { status: 201, body: posted }
              - priority: 6
                path: /q
                query: { v: "2" }
                service: other
              - priority: 7
                host: other.test
                service: other
              - priority: 8
                path: /work
                headers: { X-Slow: "yes" }
                timeout: 1s
                service: shop
              - priority: 9
                path: /img/*.png
                fixedResponse: { status: 200, body: png, contentType: image/png }
          - name: edge
            listen: 127.0.0.1:0
            trustedProxies: [127.0.0.1]
            trustRequestId: true
            default: { fixedResponse: { status: 418, body: no such route } }
            rules:
              - path: /echo
                service: shop
          - name: secure
            listen: 127.0.0.1:0
            protocol: https
            tls:
              certificates:
                - { cert: a.pem, key: a.key }
                - { cert: b.pem, key: b.key }
            rules:
              - service: shop
          - name: plain
            listen: 127.0.0.1:0
            redirect: https
        """,
        Specs.Shop("shop", 2),
        Specs.Shop("other", 1));

    internal FlotillaInstance Flotilla { get; private set; } = null!;

    public async ValueTask InitializeAsync()
    {
        Flotilla = await FlotillaInstance.StartAsync(Spec, directory =>
        {
            TestCertificates.Write(directory, "a", "a.test");
            TestCertificates.Write(directory, "b", "b.test");
        });
        await Flotilla.WaitForHealthyAsync("shop", 2);
        await Flotilla.WaitForHealthyAsync("other", 1);
    }

    public async ValueTask DisposeAsync() => await Flotilla.DisposeAsync();
}

public sealed class DataPlaneTests(RoutingFleet fleet) : IClassFixture<RoutingFleet>
{
    private static CancellationToken Cancel => TestContext.Current.CancellationToken;

    private FlotillaInstance Flotilla => fleet.Flotilla;

    private string Web => Flotilla.Listener("web");

    private async Task<(HttpStatusCode Status, string? Task, string Body, HttpResponseMessage Response)> SendAsync(HttpRequestMessage request)
    {
        var response = await Flotilla.Http.SendAsync(request, Cancel);
        var task = response.Headers.TryGetValues("X-Task-Id", out var values) ? values.Single() : null;
        return (response.StatusCode, task, await response.Content.ReadAsStringAsync(Cancel), response);
    }

    /// <summary>The headers /echo reports, by name ignoring case, as HTTP compares them.</summary>
    private static Dictionary<string, string> EchoedHeaders(string body) =>
        JsonDocument.Parse(body).RootElement.GetProperty("headers").EnumerateObject()
            .ToDictionary(p => p.Name, p => p.Value.GetString() ?? "", StringComparer.OrdinalIgnoreCase);

    private Task<(HttpStatusCode Status, string? Task, string Body, HttpResponseMessage Response)> GetAsync(string path, params (string Name, string Value)[] headers)
    {
        var request = new HttpRequestMessage(HttpMethod.Get, Web + path);
        foreach (var (name, value) in headers)
        {
            if (name == "Host")
            {
                request.Headers.Host = value;
            }
            else
            {
                request.Headers.TryAddWithoutValidation(name, value);
            }
        }

        return SendAsync(request);
    }

    [Fact(Timeout = 120_000)]
    public async Task Rules_OfEveryKind_RouteAsWritten_PrioritizedOnesBeforeTheCatchAll()
    {
        var exact = await GetAsync("/exact");
        var notExact = await GetAsync("/exact/x");
        var png = await GetAsync("/img/a/b.png");
        var beta = await GetAsync("/anything", ("X-Beta", "ON"));
        var query = await GetAsync("/q?v=2");
        var otherQuery = await GetAsync("/q?v=1");
        var host = await GetAsync("/x", ("Host", "other.test"));
        var post = await SendAsync(new HttpRequestMessage(HttpMethod.Post, Web + "/only-post"));
        var get = await GetAsync("/only-post");

        Assert.Equal((HttpStatusCode.OK, "exact match"), (exact.Status, exact.Body));
        Assert.StartsWith("shop-", notExact.Task);
        Assert.Equal("image/png", png.Response.Content.Headers.ContentType?.MediaType);
        Assert.Equal("png", png.Body);
        Assert.Equal("other-1", beta.Task);
        Assert.Equal("other-1", query.Task);
        Assert.StartsWith("shop-", otherQuery.Task);
        Assert.Equal("other-1", host.Task);
        Assert.Equal((HttpStatusCode.Created, "posted"), (post.Status, post.Body));
        Assert.StartsWith("shop-", get.Task);
    }

    [Fact(Timeout = 120_000)]
    public async Task Rules_Redirect_FillsTheLocationTemplate()
    {
        using var client = new HttpClient(new HttpClientHandler { AllowAutoRedirect = false });

        using var response = await client.GetAsync(Web + "/old/a/b?x=1", Cancel);

        Assert.Equal(HttpStatusCode.PermanentRedirect, response.StatusCode);
        Assert.Equal("https://127.0.0.1/new/old/a/b?x=1", response.Headers.Location?.ToString());
    }

    [Fact(Timeout = 120_000)]
    public async Task Rules_WeightedForward_SplitsTwoThousandRequestsWithinFivePercent()
    {
        var other = 0;
        for (var i = 0; i < 2000; i++)
        {
            using var response = await Flotilla.Http.GetAsync(Web + "/canary", Cancel);
            if (response.Headers.GetValues("X-Task-Id").Single() == "other-1")
            {
                other++;
            }
        }

        Assert.InRange(other / 2000.0, 0.25, 0.35);
    }

    [Fact(Timeout = 120_000)]
    public async Task Listener_NoRuleMatches_AnswersItsDefaultAction()
    {
        using var response = await Flotilla.Http.GetAsync(Flotilla.Listener("edge") + "/nope", Cancel);

        Assert.Equal((HttpStatusCode)418, response.StatusCode);
        Assert.Equal("no such route", await response.Content.ReadAsStringAsync(Cancel));
        Assert.True(response.Headers.Contains("X-Request-Id"));
    }

    [Fact(Timeout = 120_000)]
    public async Task Proxy_UnreachableOrSilentTaskOrTooLargeBody_Answers502_504_413()
    {
        var aborted = await GetAsync("/abort");
        var slow = await GetAsync("/work?ms=5000", ("X-Slow", "yes"));
        var small = await SendAsync(new HttpRequestMessage(HttpMethod.Post, Web + "/upload") { Content = new ByteArrayContent(new byte[500]) });
        var large = await SendAsync(new HttpRequestMessage(HttpMethod.Post, Web + "/upload") { Content = new ByteArrayContent(new byte[2000]) });
        var chunked = new StreamContent(new MemoryStream(new byte[5000]));
        chunked.Headers.ContentLength = null;
        var largeChunked = new HttpRequestMessage(HttpMethod.Post, Web + "/upload") { Content = chunked };
        largeChunked.Headers.TransferEncodingChunked = true;
        var largeChunkedReply = await SendAsync(largeChunked);

        Assert.Equal(HttpStatusCode.BadGateway, aborted.Status);
        Assert.Equal(HttpStatusCode.GatewayTimeout, slow.Status);
        Assert.Equal(HttpStatusCode.OK, small.Status);
        Assert.Contains("\"bytes\":500", small.Body);
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, large.Status);
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, largeChunkedReply.Status);
    }

    [Fact(Timeout = 120_000)]
    public async Task Headers_FromAnyClient_RequestIdTraceparentAndForwardedHeadersAreSetForTheTask()
    {
        const string TraceId = "4bf92f3577b34da6a3ce929d0e0e4736";
        var traced = await GetAsync("/echo", ("traceparent", $"00-{TraceId}-00f067aa0ba902b7-01"), ("X-Request-Id", "client-chosen"), ("X-Forwarded-For", "203.0.113.9"));
        var fresh = await GetAsync("/echo");

        var headers = EchoedHeaders(traced.Body);
        var requestId = traced.Response.Headers.GetValues("X-Request-Id").Single();
        Assert.Equal(TraceId, requestId);
        Assert.Equal(requestId, headers["X-Request-Id"]);
        var traceparent = headers["traceparent"].Split('-');
        Assert.Equal(TraceId, traceparent[1]);
        Assert.NotEqual("00f067aa0ba902b7", traceparent[2]);
        Assert.Equal("127.0.0.1", headers["X-Forwarded-For"]);
        Assert.Equal("http", headers["X-Forwarded-Proto"]);
        Assert.Equal(new Uri(Web).Authority, headers["X-Forwarded-Host"]);
        Assert.Equal(new Uri(Web).Authority, headers["Host"]);

        var freshHeaders = EchoedHeaders(fresh.Body);
        var freshId = fresh.Response.Headers.GetValues("X-Request-Id").Single();
        Assert.Matches("^[0-9a-f]{32}$", freshId);
        Assert.NotEqual(TraceId, freshId);
        Assert.Equal(freshId, freshHeaders["traceparent"].Split('-')[1]);
    }

    [Fact(Timeout = 120_000)]
    public async Task Headers_FromATrustedProxy_AreKeptAndExtended()
    {
        var request = new HttpRequestMessage(HttpMethod.Get, Flotilla.Listener("edge") + "/echo");
        request.Headers.TryAddWithoutValidation("X-Forwarded-For", "203.0.113.9");
        request.Headers.TryAddWithoutValidation("X-Forwarded-Proto", "https");
        request.Headers.TryAddWithoutValidation("X-Request-Id", "edge-chosen-42");

        var reply = await SendAsync(request);

        var headers = EchoedHeaders(reply.Body);
        Assert.Equal("203.0.113.9, 127.0.0.1", headers["X-Forwarded-For"]);
        Assert.Equal("https", headers["X-Forwarded-Proto"]);
        Assert.Equal("edge-chosen-42", headers["X-Request-Id"]);
        Assert.Equal("edge-chosen-42", reply.Response.Headers.GetValues("X-Request-Id").Single());
        var line = await Eventually.Until(
            () => Task.FromResult(Flotilla.AccessLog().Where(l => l.GetProperty("requestId").GetString() == "edge-chosen-42").ToList()),
            lines => lines.Count == 1,
            TimeSpan.FromSeconds(10),
            "the request's access-log line");
        Assert.Equal("203.0.113.9", line[0].GetProperty("clientIp").GetString());
    }

    [Fact(Timeout = 120_000)]
    public async Task AccessLog_EachRequest_IsOneJsonLineWithEveryField()
    {
        var reply = await GetAsync("/echo?x=1", ("User-Agent", "flotilla-test/1"));
        var requestId = reply.Response.Headers.GetValues("X-Request-Id").Single();

        var lines = await Eventually.Until(
            () => Task.FromResult(Flotilla.AccessLog().Where(l => l.GetProperty("requestId").GetString() == requestId).ToList()),
            found => found.Count == 1,
            TimeSpan.FromSeconds(10),
            "the request's access-log line");

        var line = lines[0];
        string[] fields = ["time", "requestId", "traceId", "listener", "rule", "service", "task", "method", "host", "path", "status", "durationMs", "upstreamMs", "bytesIn", "bytesOut", "clientIp", "userAgent"];
        Assert.All(fields, f => Assert.True(line.TryGetProperty(f, out _), $"field {f} in {line}"));
        Assert.Equal(requestId, line.GetProperty("traceId").GetString());
        Assert.Equal("web", line.GetProperty("listener").GetString());
        Assert.Equal("web/rules[0]", line.GetProperty("rule").GetString());
        Assert.Equal("shop", line.GetProperty("service").GetString());
        Assert.Equal(reply.Task, line.GetProperty("task").GetString());
        Assert.Equal("GET", line.GetProperty("method").GetString());
        Assert.Equal("/echo", line.GetProperty("path").GetString());
        Assert.Equal(200, line.GetProperty("status").GetInt32());
        Assert.True(line.GetProperty("durationMs").GetDouble() >= line.GetProperty("upstreamMs").GetDouble());
        Assert.Equal(Encoding.UTF8.GetByteCount(reply.Body), line.GetProperty("bytesOut").GetInt64());
        Assert.Equal("127.0.0.1", line.GetProperty("clientIp").GetString());
        Assert.Equal("flotilla-test/1", line.GetProperty("userAgent").GetString());
    }

    [Fact(Timeout = 120_000)]
    public async Task Tls_SniPicksTheCertificate_Http2IsNegotiated_AndHttpRedirectsToHttps()
    {
        var secure = new Uri(Flotilla.Listener("secure"));
        string? served = null;
        using var handler = new SocketsHttpHandler
        {
            // Connect to the listener whatever the URL's host, so that the host is only the SNI name.
            ConnectCallback = async (_, cancellation) =>
            {
                var socket = new Socket(SocketType.Stream, ProtocolType.Tcp);
                await socket.ConnectAsync(IPAddress.Loopback, secure.Port, cancellation);
                return new NetworkStream(socket, ownsSocket: true);
            },
            SslOptions = new SslClientAuthenticationOptions
            {
                RemoteCertificateValidationCallback = (_, certificate, _, _) =>
                {
                    served = (certificate as X509Certificate2)?.GetNameInfo(X509NameType.DnsName, forIssuer: false);
                    return true;
                },
            },
        };
        using var client = new HttpClient(handler);

        async Task<(string? Name, Version Version)> Fetch(string host)
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, $"https://{host}:{secure.Port}/") { Version = HttpVersion.Version20 };
            using var response = await client.SendAsync(request, Cancel);
            response.EnsureSuccessStatusCode();
            return (served, response.Version);
        }

        var a = await Fetch("a.test");
        var b = await Fetch("b.test");
        using var noRedirects = new HttpClient(new HttpClientHandler { AllowAutoRedirect = false });
        using var redirect = await noRedirects.GetAsync(Flotilla.Listener("plain") + "/x/y?z=1", Cancel);

        Assert.Equal(("a.test", HttpVersion.Version20), a);
        Assert.Equal(("b.test", HttpVersion.Version20), b);
        Assert.Equal(HttpStatusCode.MovedPermanently, redirect.StatusCode);
        Assert.Equal($"https://127.0.0.1:{secure.Port}/x/y?z=1", redirect.Headers.Location?.ToString());
    }

    [Fact(Timeout = 120_000)]
    public async Task WebSocket_ThroughTheProxy_EchoesMessages()
    {
        using var socket = new ClientWebSocket();
        await socket.ConnectAsync(new Uri(Web.Replace("http://", "ws://", StringComparison.Ordinal) + "/ws"), Cancel);
        var buffer = new byte[100];

        await socket.SendAsync("hello through flotilla"u8.ToArray(), WebSocketMessageType.Text, true, Cancel);
        var received = await socket.ReceiveAsync(buffer, Cancel);
        await socket.CloseAsync(WebSocketCloseStatus.NormalClosure, "done", Cancel);

        Assert.Equal("hello through flotilla", Encoding.UTF8.GetString(buffer, 0, received.Count));
    }

    [Fact(Timeout = 120_000)]
    public async Task ServerSentEvents_StreamThroughTheProxyAsTheyAreSent()
    {
        using var response = await Flotilla.Http.GetAsync(Web + "/sse?count=3", HttpCompletionOption.ResponseHeadersRead, Cancel);
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(Cancel));

        var first = await reader.ReadLineAsync(Cancel);
        var rest = await reader.ReadToEndAsync(Cancel);

        Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal("id: 0", first);
        Assert.Equal(3, (first + "\n" + rest).Split("data: ").Length - 1);
    }
}
