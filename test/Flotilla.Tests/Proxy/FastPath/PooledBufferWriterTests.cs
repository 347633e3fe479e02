using System.Buffers;
using System.Text;
using Flotilla.Proxy.FastPath;

namespace Flotilla.Tests.Proxy.FastPath;

/// <summary>The fast path's output and request buffers: rented at the first write, given back when reset.</summary>
public sealed class PooledBufferWriterTests
{
    [Fact]
    public void NewWriter_HoldsNoArray_UntilItsFirstWrite()
    {
        var writer = new PooledBufferWriter(1024);

        Assert.Equal(0, writer.Capacity);
        writer.Write("GET / HTTP/1.1\r\n"u8);

        Assert.InRange(writer.Capacity, 1024, int.MaxValue);
        Assert.Equal("GET / HTTP/1.1\r\n", Encoding.ASCII.GetString(writer.WrittenSpan));
    }

    [Fact]
    public void Write_PastItsArray_GrowsAndKeepsWhatIsWritten()
    {
        var writer = new PooledBufferWriter(16);
        var expected = new byte[100_000];
        Random.Shared.NextBytes(expected);

        for (var at = 0; at < expected.Length; at += 777)
        {
            writer.Write(expected.AsSpan(at, Math.Min(777, expected.Length - at)));
        }

        Assert.Equal(expected.Length, writer.WrittenCount);
        Assert.True(writer.WrittenSpan.SequenceEqual(expected));
    }

    [Fact]
    public void Reset_AfterALargeMessage_LetsGoOfItsArray_AndTheNextWriteStartsSmall()
    {
        var writer = new PooledBufferWriter(1024);
        writer.Write(new byte[70_000]);

        writer.Reset();

        Assert.Equal((0, 0), (writer.WrittenCount, writer.Capacity));
        writer.Write("next"u8);
        Assert.InRange(writer.Capacity, 1024, 4096);
        Assert.Equal("next", Encoding.ASCII.GetString(writer.WrittenSpan));
    }

    [Fact]
    public void Advance_PastTheSpaceGiven_Throws()
    {
        var writer = new PooledBufferWriter(16);
        var space = writer.GetSpan(8).Length;

        Assert.Throws<InvalidOperationException>(() => writer.Advance(space + 1));
        Assert.Throws<ArgumentOutOfRangeException>(() => writer.Advance(-1));
        Assert.Equal(0, writer.WrittenCount);
    }
}
