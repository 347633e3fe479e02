using System.Buffers;

namespace Flotilla.Proxy.FastPath;

/// <summary>
/// An <see cref="IBufferWriter{T}"/> of bytes whose array is rented from <see cref="ArrayPool{T}.Shared"/> at the first
/// write and given back by <see cref="Reset"/>: a connection holds buffer space only while it has bytes to send, and
/// a large message (a 64 KiB body, a long response head) does not leave it holding a large array for the rest of its life,
/// as an <see cref="ArrayBufferWriter{T}"/>, which only grows, would.
/// </summary>
internal sealed class PooledBufferWriter(int initialSize) : IBufferWriter<byte>
{
    private byte[] _buffer = [];

    /// <summary>The size of the array held: 0 after <see cref="Reset"/> until the next write.</summary>
    public int Capacity => _buffer.Length;

    public int WrittenCount { get; private set; }

    public ReadOnlySpan<byte> WrittenSpan => _buffer.AsSpan(0, WrittenCount);

    public void Advance(int count)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        if (count > _buffer.Length - WrittenCount)
        {
            throw new InvalidOperationException($"cannot advance {count} bytes past the {_buffer.Length - WrittenCount} bytes of space left");
        }

        WrittenCount += count;
    }

    public Memory<byte> GetMemory(int sizeHint = 0)
    {
        Reserve(sizeHint);
        return _buffer.AsMemory(WrittenCount);
    }

    public Span<byte> GetSpan(int sizeHint = 0)
    {
        Reserve(sizeHint);
        return _buffer.AsSpan(WrittenCount);
    }

    /// <summary>Forgets what was written and gives the array back to the pool.</summary>
    public void Reset()
    {
        WrittenCount = 0;
        if (_buffer.Length > 0)
        {
            ArrayPool<byte>.Shared.Return(_buffer);
            _buffer = [];
        }
    }

    /// <summary>Makes room for at least <paramref name="sizeHint"/> more bytes (at least one), keeping what is written.</summary>
    private void Reserve(int sizeHint)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(sizeHint);
        var needed = WrittenCount + Math.Max(sizeHint, 1);
        if (needed <= _buffer.Length)
        {
            return;
        }

        var grown = ArrayPool<byte>.Shared.Rent(Math.Max(needed, Math.Max(initialSize, _buffer.Length * 2)));
        WrittenSpan.CopyTo(grown);
        if (_buffer.Length > 0)
        {
            ArrayPool<byte>.Shared.Return(_buffer);
        }

        _buffer = grown;
    }
}
