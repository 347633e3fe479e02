using System.Text;
using Flotilla.Proxy.FastPath;

namespace Flotilla.Tests.Proxy.FastPath;

public sealed class Http1ResponseHeadTests
{
    private static Http1ResponseHead Parse(string head, bool headRequest = false)
    {
        var response = new Http1ResponseHead();
        Assert.True(response.TryParse(Encoding.ASCII.GetBytes(head), headRequest));
        return response;
    }

    private static string[] Forwarded(Http1ResponseHead response, string head) =>
        response.Forwarded.Select(f => head.Substring(f.Start, f.Length)).ToArray();

    [Fact]
    public void TryParse_ContentLength_FramesTheBodyAndDropsHopByHopHeaders()
    {
        const string head = "HTTP/1.1 201 Created\r\nContent-Length: 12\r\nConnection: keep-alive\r\nKeep-Alive: timeout=5\r\nX-Request-Id: theirs\r\nX-Task-Id: t1\r\n\r\n";
        var response = Parse(head);

        Assert.Equal(201, response.StatusCode);
        Assert.Equal(BodyFraming.ContentLength, response.Framing);
        Assert.Equal(12, response.ContentLength);
        Assert.False(response.Close);
        Assert.Equal(head.Length, response.Length);
        Assert.Equal("Created", head.Substring(response.Reason.Start, response.Reason.Length));
        Assert.Equal(["Content-Length: 12", "X-Task-Id: t1"], Forwarded(response, head));
    }

    [Fact]
    public void TryParse_ChunkedWithContentLength_ChunkedWinsAndTheLengthIsNotPassedOn()
    {
        const string head = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n";
        var response = Parse(head);

        Assert.Equal(BodyFraming.Chunked, response.Framing);
        Assert.Equal(["Transfer-Encoding: chunked"], Forwarded(response, head));
    }

    [Theory]
    [InlineData("HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n", false, "None", false)]
    [InlineData("HTTP/1.1 304 Not Modified\r\n\r\n", false, "None", false)]
    [InlineData("HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\n", true, "None", false)]
    [InlineData("HTTP/1.1 200 OK\r\n\r\n", false, "UntilClose", true)]
    [InlineData("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n", false, "UntilClose", true)]
    [InlineData("HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\n", false, "ContentLength", true)]
    [InlineData("HTTP/1.0 200 OK\r\nContent-Length: 1\r\nConnection: keep-alive\r\n\r\n", false, "ContentLength", false)]
    [InlineData("HTTP/1.1 200 OK\r\nContent-Length: 1\r\nConnection: close\r\n\r\n", false, "ContentLength", true)]
    [InlineData("HTTP/1.1 200\r\nContent-Length: 1\r\n\r\n", false, "ContentLength", false)]
    public void TryParse_Framing_FollowsRfc9112(string head, bool headRequest, string framing, bool close)
    {
        var response = Parse(head, headRequest);

        Assert.Equal(Enum.Parse<BodyFraming>(framing), response.Framing);
        Assert.Equal(close, response.Close);
    }

    [Theory]
    [InlineData("HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n")]
    [InlineData("HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n")]
    [InlineData("HTTP/1.1 20 OK\r\n\r\n")]
    [InlineData("HTTP/2 200 OK\r\n\r\n")]
    [InlineData("HTTP/1.1 200 OK\r\nBad Header: x\r\n\r\n")]
    [InlineData("HTTP/1.1 200 OK\r\n folded\r\n\r\n")]
    public void TryParse_Malformed_IsABadGateway(string head) =>
        Assert.Throws<InvalidDataException>(() => new Http1ResponseHead().TryParse(Encoding.ASCII.GetBytes(head), false));

    [Fact]
    public void TryParse_Incomplete_AsksForMore() =>
        Assert.False(new Http1ResponseHead().TryParse("HTTP/1.1 200 OK\r\nContent-Length: 1\r\n"u8, false));

    private const string Chunked = "5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: t\r\n\r\n";

    [Fact]
    public void ChunkedScanner_WholeBody_EndsAfterTheTrailers()
    {
        var scanner = default(ChunkedScanner);
        var bytes = Encoding.ASCII.GetBytes(Chunked + "HTTP/1.1 next");

        Assert.Equal(Chunked.Length, scanner.Advance(bytes));
        Assert.True(scanner.Done);
        Assert.Equal(11, scanner.DataBytes);
    }

    [Fact]
    public void ChunkedScanner_ByteByByte_EndsAtTheSamePlace()
    {
        var scanner = default(ChunkedScanner);
        var bytes = Encoding.ASCII.GetBytes(Chunked);
        var taken = 0;
        foreach (var b in bytes)
        {
            Assert.False(scanner.Done);
            taken += scanner.Advance([b]);
        }

        Assert.True(scanner.Done);
        Assert.Equal(bytes.Length, taken);
    }

    [Theory]
    [InlineData("x\r\n")]
    [InlineData("5\r\nhelloX\r\n")]
    [InlineData("\r\n")]
    [InlineData("1234567890abcdef0\r\n")]
    public void ChunkedScanner_MalformedFraming_Throws(string body)
    {
        var scanner = default(ChunkedScanner);
        Assert.Throws<InvalidDataException>(() => scanner.Advance(Encoding.ASCII.GetBytes(body)));
    }
}
