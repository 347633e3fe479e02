using System.Numerics;

namespace Flotilla.Core.Metrics;

/// <summary>
/// One latency histogram per slot (a second, or a minute) for the last <c>retainedSlots</c> slots, stored sparse.
/// </summary>
/// <remarks>
/// A dense histogram is <see cref="LatencyBuckets.Count"/> counters, over 600 bytes, and a day of them per task would
/// cost gigabytes for a modest fleet; but one second of real traffic fills a few dozen buckets. So each slot is encoded
/// as its non-empty buckets only — (gap since the previous one, count) as LEB128 varints, about two bytes a bucket —
/// and slots are packed 60 at a time into chunks, like Prometheus' head chunks: the open chunk grows in a reusable
/// buffer and is copied once, at its exact size, when it is sealed. A chunk of 60 empty slots is sealed as null.
/// Chunks line up with minutes (for seconds) and hours (for minutes) because slot numbers count from the Unix epoch.
/// Not thread-safe: the store serialises writers and readers.
/// </remarks>
internal sealed class HistogramRing
{
    private const int SlotsPerChunk = 60;

    /// <summary>Longest encoding of one count: a 64-bit LEB128 varint.</summary>
    private const int MaxVarintLength = 10;

    private readonly byte[]?[] _sealed;
    private byte[] _open = new byte[64];
    private int _openLength;
    private int _openSlots;
    private long _openChunk = long.MinValue;

    public HistogramRing(int retainedSlots)
    {
        // The open chunk always holds at least the newest slot, so this many sealed chunks cover the rest.
        _sealed = new byte[]?[(retainedSlots + SlotsPerChunk - 1) / SlotsPerChunk];
    }

    /// <summary>Stores slot <paramref name="slot"/>'s counts. Slots come in increasing order; skipped ones are empty.</summary>
    public void Append(long slot, ReadOnlySpan<long> counts)
    {
        var chunk = Slots.FloorDiv(slot, SlotsPerChunk);
        var offset = slot - (chunk * SlotsPerChunk);
        if (chunk != _openChunk)
        {
            StartChunk(chunk);
        }

        var payload = PayloadLength(counts);
        var needed = _openLength + (int)offset - _openSlots + MaxVarintLength + payload;
        if (needed > _open.Length)
        {
            Array.Resize(ref _open, Math.Max(needed, _open.Length * 2));
        }

        while (_openSlots < offset)
        {
            _open[_openLength++] = 0;
            _openSlots++;
        }

        _openLength += WriteVarint(_open.AsSpan(_openLength), (ulong)payload);
        var previous = -1;
        for (var i = 0; i < counts.Length; i++)
        {
            if (counts[i] != 0)
            {
                _openLength += WriteVarint(_open.AsSpan(_openLength), (ulong)(i - previous - 1));
                _openLength += WriteVarint(_open.AsSpan(_openLength), (ulong)counts[i]);
                previous = i;
            }
        }

        _openSlots++;
    }

    /// <summary>Adds the counts of slots in [<paramref name="from"/>, <paramref name="to"/>) to <paramref name="counts"/>.</summary>
    public void AddTo(long from, long to, Span<long> counts)
    {
        for (var chunk = Slots.FloorDiv(from, SlotsPerChunk); chunk <= Slots.FloorDiv(to - 1, SlotsPerChunk); chunk++)
        {
            var data = ChunkData(chunk);
            var slot = chunk * SlotsPerChunk;
            var position = 0;
            while (position < data.Length && slot < to)
            {
                var length = (int)ReadVarint(data, ref position);
                if (slot >= from && length > 0)
                {
                    AddSlot(data.Slice(position, length), counts);
                }

                position += length;
                slot++;
            }
        }
    }

    private static void AddSlot(ReadOnlySpan<byte> slot, Span<long> counts)
    {
        var position = 0;
        var index = -1;
        while (position < slot.Length)
        {
            index += (int)ReadVarint(slot, ref position) + 1;
            counts[index] += (long)ReadVarint(slot, ref position);
        }
    }

    private ReadOnlySpan<byte> ChunkData(long chunk)
    {
        if (chunk == _openChunk)
        {
            return _open.AsSpan(0, _openLength);
        }

        return chunk < _openChunk && chunk >= _openChunk - _sealed.Length ? _sealed[Position(chunk)] : default;
    }

    private void StartChunk(long chunk)
    {
        if (_openChunk != long.MinValue)
        {
            // A chunk of empty slots is one zero byte per slot: nothing worth keeping.
            _sealed[Position(_openChunk)] = _openLength == _openSlots ? null : _open.AsSpan(0, _openLength).ToArray();

            // Chunks skipped by a gap in time hold stale data from a lap ago; a gap longer than the ring clears it all.
            for (var skipped = _openChunk + 1; skipped < chunk && skipped <= _openChunk + _sealed.Length; skipped++)
            {
                _sealed[Position(skipped)] = null;
            }
        }

        _openChunk = chunk;
        _openLength = 0;
        _openSlots = 0;
    }

    private int Position(long chunk) => (int)(chunk % _sealed.Length);

    private static int PayloadLength(ReadOnlySpan<long> counts)
    {
        var length = 0;
        var previous = -1;
        for (var i = 0; i < counts.Length; i++)
        {
            if (counts[i] != 0)
            {
                length += VarintLength((ulong)(i - previous - 1)) + VarintLength((ulong)counts[i]);
                previous = i;
            }
        }

        return length;
    }

    private static int VarintLength(ulong value) => Math.Max(1, (64 - BitOperations.LeadingZeroCount(value) + 6) / 7);

    private static int WriteVarint(Span<byte> destination, ulong value)
    {
        var i = 0;
        while (value >= 0x80)
        {
            destination[i++] = (byte)(value | 0x80);
            value >>= 7;
        }

        destination[i++] = (byte)value;
        return i;
    }

    private static ulong ReadVarint(ReadOnlySpan<byte> source, ref int position)
    {
        ulong value = 0;
        var shift = 0;
        byte b;
        do
        {
            b = source[position++];
            value |= (ulong)(b & 0x7F) << shift;
            shift += 7;
        }
        while (b >= 0x80);

        return value;
    }
}
