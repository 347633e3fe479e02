using System.Buffers;
using System.Text;
using Flotilla.Proxy;
using Flotilla.Proxy.FastPath;
using Microsoft.AspNetCore.Http;

namespace Flotilla.Tests.Proxy.FastPath;

public sealed class Http1RequestHeadTests
{
    private static (Http1RequestHead Head, string? Declined) Parse(string head)
    {
        var parsed = new Http1RequestHead();
        var bytes = Encoding.Latin1.GetBytes(head);
        var end = parsed.Load(bytes, bytes.Length);
        Assert.Equal(bytes.Length, end);
        return (parsed, parsed.Parse(end));
    }

    [Fact]
    public void Parse_SimpleGet_ReadsTheFieldsRoutingNeeds()
    {
        var (head, declined) = Parse("GET /api/orders?id=7&id=8&Tag=x HTTP/1.1\r\nHost: Shop.Test:8080\r\nUser-Agent: t/1\r\nX-Canary: yes\r\nx-canary: maybe\r\nCookie: theme=dark; session=a%20b\r\n\r\n");

        Assert.Null(declined);
        Assert.Equal("GET", head.Method);
        Assert.Equal("/api/orders", head.Path);
        Assert.Equal("?id=7&id=8&Tag=x", head.QueryString);
        Assert.Equal("Shop.Test", head.HostName);
        Assert.Equal("Shop.Test:8080", head.Host);
        Assert.Equal(["yes", "maybe"], head.Header("X-CANARY").ToArray());
        Assert.Equal(["7", "8"], head.Query("id").ToArray());
        Assert.Equal("x", head.Query("tag").ToString());
        Assert.Equal("a b", head.Cookie("session"));
        Assert.Null(head.Cookie("missing"));
        Assert.Equal(0, head.ContentLength);
        Assert.False(head.Close);
    }

    [Fact]
    public void Fields_ReadAsKestrelsRequestReadsThem()
    {
        var (head, _) = Parse("GET /x?a=1&a=%32&b= HTTP/1.1\r\nHost: h\r\nCookie: k=v%21; k=second\r\nX-List: a, b\r\n\r\n");
        var context = new DefaultHttpContext();
        context.Request.Path = "/x";
        context.Request.QueryString = new QueryString("?a=1&a=%32&b=");
        context.Request.Headers.Host = "h";
        context.Request.Headers.Cookie = "k=v%21; k=second";
        context.Request.Headers["X-List"] = "a, b";
        var kestrel = new HttpRequestFields(context);

        Assert.Equal(kestrel.Query("a"), head.Query("a"));
        Assert.Equal(kestrel.Query("b"), head.Query("b"));
        Assert.Equal(kestrel.Cookie("k"), head.Cookie("k"));
        Assert.Equal(kestrel.Header("x-list"), head.Header("x-list"));
        Assert.Equal(kestrel.HostName, head.HostName);
        Assert.Equal(kestrel.Path, head.Path);
    }

    [Fact]
    public void Parse_Headers_HopByHopAndReplacedOnesAreNotForwarded()
    {
        var (head, declined) = Parse("POST /upload HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nConnection: keep-alive\r\nKeep-Alive: timeout=5\r\nTE: trailers\r\nX-Forwarded-For: 6.6.6.6\r\nX-Request-Id: mine\r\ntraceparent: x\r\nAccept:  */* \r\n\r\n");

        Assert.Null(declined);
        Assert.Equal(5, head.ContentLength);
        var forwarded = Enumerable.Range(0, head.HeaderCount)
            .Select(head.HeaderAt)
            .Where(h => h.Kind == Http1RequestHead.HeaderKind.Forwarded)
            .Select(h => Encoding.ASCII.GetString(h.Line.Span))
            .ToArray();
        Assert.Equal(["Host: h", "Content-Length: 5", "Accept:  */*"], forwarded);
    }

    [Fact]
    public void Parse_Expect100Continue_IsNoted_AndNotForwarded()
    {
        var (head, declined) = Parse("POST /upload HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nexpect: 100-Continue\r\n\r\n");
        var (plain, _) = Parse("POST /upload HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\n");

        Assert.Null(declined);
        Assert.True(head.ExpectContinue);
        Assert.False(plain.ExpectContinue);
        Assert.Equal(Http1RequestHead.HeaderKind.Dropped, head.HeaderAt(2).Kind);
    }

    [Fact]
    public void Parse_ConnectionClose_IsNoted()
    {
        var (head, declined) = Parse("GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n");

        Assert.Null(declined);
        Assert.True(head.Close);
    }

    /// <summary>Everything that is not plainly one simple request goes to Kestrel's parser, which owns the connection from then on.</summary>
    [Theory]
    [InlineData("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n", "transfer-encoding header")]
    [InlineData("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n", "transfer-encoding header")]
    [InlineData("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 4\r\nContent-Length: 5\r\n\r\n", "more than one content-length")]
    [InlineData("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 4\r\nContent-Length: 4\r\n\r\n", "more than one content-length")]
    [InlineData("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: +4\r\n\r\n", "malformed content-length")]
    [InlineData("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 4 4\r\n\r\n", "malformed content-length")]
    [InlineData("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 99999999999999999999999\r\n\r\n", "malformed content-length")]
    [InlineData("GET / HTTP/1.1\r\nHost: h\r\nX-A: 1\r\n folded\r\n\r\n", "malformed header name")]
    [InlineData("GET / HTTP/1.1\r\nHost: h\r\nX-A : 1\r\n\r\n", "malformed header name")]
    [InlineData("GET / HTTP/1.1\r\nHost: h\r\nX-A: 1\nX-B: 2\r\n\r\n", "malformed header line")]
    [InlineData("GET / HTTP/1.1\r\nHost: h\r\nX-A: caf\u00e9\r\n\r\n", "header value outside visible ASCII")]
    [InlineData("GET / HTTP/1.1\r\nHost: h\r\nX-A: a\0b\r\n\r\n", "header value outside visible ASCII")]
    [InlineData("GET / HTTP/1.0\r\nHost: h\r\n\r\n", "not HTTP/1.1")]
    [InlineData("GET  / HTTP/1.1\r\nHost: h\r\n\r\n", "not HTTP/1.1")]
    [InlineData("GET http://h/ HTTP/1.1\r\nHost: h\r\n\r\n", "path needs normalizing")]
    [InlineData("GET /a%2Fb HTTP/1.1\r\nHost: h\r\n\r\n", "path needs normalizing")]
    [InlineData("GET /a/../b HTTP/1.1\r\nHost: h\r\n\r\n", "path needs normalizing")]
    [InlineData("GET /a#frag HTTP/1.1\r\nHost: h\r\n\r\n", "path needs normalizing")]
    [InlineData("OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n", "path needs normalizing")]
    [InlineData("G@T / HTTP/1.1\r\nHost: h\r\n\r\n", "malformed method")]
    [InlineData("GET / HTTP/1.1\r\n\r\n", "not exactly one host header")]
    [InlineData("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", "not exactly one host header")]
    [InlineData("GET / HTTP/1.1\r\nHost: a b\r\n\r\n", "unusual host")]
    [InlineData("GET / HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n", "upgrade header")]
    [InlineData("GET / HTTP/1.1\r\nHost: h\r\nConnection: keep-alive, X-Secret\r\n\r\n", "connection header names other headers")]
    [InlineData("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 4\r\nExpect: 200-ok\r\n\r\n", "expect header")]
    [InlineData("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 4\r\nExpect: 100-continue, x\r\n\r\n", "expect header")]
    [InlineData("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 4\r\nExpect: 100-continue\r\nExpect: 100-continue\r\n\r\n", "expect header")]
    public void Parse_AnythingUnusual_IsDeclined(string request, string reason) =>
        Assert.Equal(reason, Parse(request).Declined);

    [Fact]
    public void Load_TheHeadIsReadWhereItLies_AndFollowsItsBytesWhenTheyMove()
    {
        var bytes = Encoding.ASCII.GetBytes("GET /here HTTP/1.1\r\nHost: h\r\nX-Tag: one\r\n\r\nGET /next");
        var head = new Http1RequestHead();

        var length = head.Load(bytes, bytes.Length);
        Assert.Null(head.Parse(length));
        var moved = bytes.ToArray();
        "two"u8.CopyTo(moved.AsSpan(bytes.AsSpan().IndexOf("one"u8)));
        head.Rebase(moved);

        Assert.Equal(bytes.AsSpan().IndexOf("GET /next"u8), length);
        Assert.Equal("/here", head.Path);
        Assert.Equal("two", head.Header("X-Tag").ToString());
    }

    [Fact]
    public void FindEnd_IncompleteOrOversizedHead_IsNotFound()
    {
        Assert.Equal(-1, Http1RequestHead.FindEnd("GET / HTTP/1.1\r\nHost: h\r\n"u8));
        var huge = Encoding.ASCII.GetBytes("GET / HTTP/1.1\r\nX: " + new string('a', Http1RequestHead.MaxHeadSize) + "\r\n\r\n");
        Assert.Equal(-1, Http1RequestHead.FindEnd(huge));
    }
}
