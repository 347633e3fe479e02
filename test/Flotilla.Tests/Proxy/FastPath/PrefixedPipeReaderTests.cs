using System.Buffers;
using System.IO.Pipelines;
using System.Text;
using Flotilla.Proxy.FastPath;

namespace Flotilla.Tests.Proxy.FastPath;

/// <summary>The input Kestrel reads after a hand-over: the bytes the loop had read, then the transport's, as one stream.</summary>
public sealed class PrefixedPipeReaderTests
{
    private static CancellationToken Cancel => TestContext.Current.CancellationToken;

    private readonly Pipe _transport = new();

    private PrefixedPipeReader Reader(string prefix) => new(Encoding.ASCII.GetBytes(prefix), _transport.Reader);

    private static string Text(ReadResult result) => Encoding.ASCII.GetString(result.Buffer.ToArray());

    /// <summary>A reader whose prefix, part of a head, has been examined whole and none of it consumed, as Kestrel does.</summary>
    private async Task<PrefixedPipeReader> PartHeadExaminedAsync()
    {
        var reader = Reader("GET / HT");
        var partial = await reader.ReadAsync(Cancel);
        reader.AdvanceTo(partial.Buffer.Start, partial.Buffer.End);
        return reader;
    }

    private async Task SendAsync(string text) => await _transport.Writer.WriteAsync(Encoding.ASCII.GetBytes(text), Cancel);

    [Fact]
    public async Task PrefixFirst_ThenTheTransportsBytes()
    {
        var reader = Reader("GET / HTTP/1.1\r\n\r\n");
        await SendAsync("body");

        var first = await reader.ReadAsync(Cancel);
        var prefix = Text(first);
        reader.AdvanceTo(first.Buffer.End);
        var second = await reader.ReadAsync(Cancel);

        Assert.Equal("GET / HTTP/1.1\r\n\r\n", prefix);
        Assert.Equal("body", Text(second));
    }

    [Fact]
    public async Task PartlyConsumed_TheRestOfThePrefixComesNext_WithoutWaitingForTheTransport()
    {
        var reader = Reader("abcdef");

        var first = await reader.ReadAsync(Cancel);
        reader.AdvanceTo(first.Buffer.GetPosition(2));
        var second = await reader.ReadAsync(Cancel);

        Assert.Equal("cdef", Text(second));
    }

    [Fact]
    public async Task PrefixExaminedButNotConsumed_TheNextReadJoinsItWithTheTransportsBytes()
    {
        var reader = await PartHeadExaminedAsync();

        var next = reader.ReadAsync(Cancel);
        var waited = !next.IsCompleted;
        await SendAsync("TP/1.1\r\n\r\n");
        var joined = await next;
        reader.AdvanceTo(joined.Buffer.End);
        await SendAsync("more");
        var after = await reader.ReadAsync(Cancel);

        Assert.True(waited, "the read waits for the transport");
        Assert.Equal("GET / HTTP/1.1\r\n\r\n", Text(joined));
        Assert.Equal("more", Text(after));
    }

    [Fact]
    public async Task TransportEndsWhileThePrefixIsIncomplete_TheReadSaysCompleted()
    {
        var reader = await PartHeadExaminedAsync();

        await _transport.Writer.CompleteAsync();
        var last = await reader.ReadAsync(Cancel);

        Assert.True(last.IsCompleted);
        Assert.Equal("GET / HT", Text(last));
    }

    [Fact]
    public async Task CancelledWhileThePrefixIsServed_ThatReadIsCancelled_AndTheTransportsIsNot()
    {
        var reader = Reader("abc");

        reader.CancelPendingRead();
        var cancelled = await reader.ReadAsync(Cancel);
        reader.AdvanceTo(cancelled.Buffer.End);
        await SendAsync("def");
        var next = await reader.ReadAsync(Cancel);

        Assert.True(cancelled.IsCanceled);
        Assert.False(next.IsCanceled);
        Assert.Equal("def", Text(next));
    }

    [Fact]
    public async Task CancelledAfterThePrefixsLastRead_TheTransportsNextReadIsCancelled()
    {
        var reader = Reader("abc");

        var first = await reader.ReadAsync(Cancel);
        reader.CancelPendingRead();
        reader.AdvanceTo(first.Buffer.End);
        var next = await reader.ReadAsync(Cancel);

        Assert.True(next.IsCanceled);
    }

    [Fact]
    public async Task CancelledWhileWaitingForTheTransport_TheReadReturnsCancelled_WithThePrefix()
    {
        var reader = await PartHeadExaminedAsync();

        var waiting = reader.ReadAsync(Cancel);
        reader.CancelPendingRead();
        var result = await waiting;

        Assert.True(result.IsCanceled);
        Assert.Equal("GET / HT", Text(result));
    }

    [Fact]
    public async Task NoPrefix_EveryReadIsTheTransports()
    {
        var reader = Reader("");
        await SendAsync("abc");

        Assert.True(reader.TryRead(out var result));
        Assert.Equal("abc", Text(result));
        reader.AdvanceTo(result.Buffer.End);
        reader.Complete();
        await Assert.ThrowsAsync<InvalidOperationException>(async () => await _transport.Reader.ReadAsync(Cancel));
    }
}
