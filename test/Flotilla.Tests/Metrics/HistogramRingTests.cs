using Flotilla.Core.Metrics;

namespace Flotilla.Tests.Metrics;

public sealed class HistogramRingTests
{
    private const long Start = 1_800_000_000; // a multiple of 60: slots from here line up with chunks

    private static long[] Histogram(params (int Bucket, long Count)[] counts)
    {
        var histogram = new long[LatencyBuckets.Count];
        foreach (var (bucket, count) in counts)
        {
            histogram[bucket] = count;
        }

        return histogram;
    }

    private static long[] Read(HistogramRing ring, long from, long to)
    {
        var counts = new long[LatencyBuckets.Count];
        ring.AddTo(from, to, counts);
        return counts;
    }

    [Fact]
    public void AddTo_SlotsAcrossChunks_SumsExactlyTheSlotsInRange()
    {
        var ring = new HistogramRing(retainedSlots: 3600);
        for (var slot = Start; slot < Start + 150; slot++)
        {
            ring.Append(slot, Histogram((3, 1), (LatencyBuckets.Count - 1, slot - Start)));
        }

        var counts = Read(ring, Start + 50, Start + 130);

        Assert.Equal(80, counts[3]);
        Assert.Equal(Enumerable.Range(50, 80).Sum(), counts[LatencyBuckets.Count - 1]);
        Assert.Equal(0, counts.Sum() - counts[3] - counts[LatencyBuckets.Count - 1]);
    }

    [Fact]
    public void Append_LargeCounts_RoundTripThroughTheVarints()
    {
        var ring = new HistogramRing(retainedSlots: 60);
        var histogram = Histogram((0, 1), (1, 127), (2, 128), (100, 1L << 40), (LatencyBuckets.Count - 1, long.MaxValue / 2));

        ring.Append(Start, histogram);

        Assert.Equal(histogram, Read(ring, Start, Start + 1));
    }

    [Fact]
    public void Append_SkippedSlotsAndChunks_ReadAsEmpty()
    {
        var ring = new HistogramRing(retainedSlots: 600);
        ring.Append(Start, Histogram((5, 1)));
        ring.Append(Start + 10, Histogram((5, 2)));
        ring.Append(Start + 200, Histogram((5, 4)));

        Assert.Equal(0, Read(ring, Start + 1, Start + 10)[5]);
        Assert.Equal(3, Read(ring, Start, Start + 60)[5]);
        Assert.Equal(0, Read(ring, Start + 60, Start + 200)[5]);
        Assert.Equal(7, Read(ring, Start, Start + 201)[5]);
    }

    [Fact]
    public void Append_AfterALap_ForgetsWhatIsOlderThanTheRetention()
    {
        var ring = new HistogramRing(retainedSlots: 120);
        for (var slot = Start; slot < Start + 400; slot++)
        {
            ring.Append(slot, Histogram((7, 1)));
        }

        Assert.Equal(0, Read(ring, Start, Start + 200)[7]);
        Assert.Equal(120, Read(ring, Start + 280, Start + 400)[7]);
    }

    [Fact]
    public void Append_GapLongerThanTheRing_LeavesNoStaleChunk()
    {
        var ring = new HistogramRing(retainedSlots: 120);
        for (var slot = Start; slot < Start + 120; slot++)
        {
            ring.Append(slot, Histogram((7, 1)));
        }

        ring.Append(Start + 1000, Histogram((7, 1)));

        Assert.Equal(1, Read(ring, Start + 900, Start + 1001)[7]);
    }
}
