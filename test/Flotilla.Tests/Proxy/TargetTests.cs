namespace Flotilla.Tests.Proxy;

public sealed class TargetTests
{
    [Fact]
    public void SlowStart_Weight_RampsLinearlyFromTenPercentToFull()
    {
        var time = Targets.Time();
        var target = Targets.New("t0", time, slowStart: TimeSpan.FromSeconds(30));
        target.Weight = 10;

        var factors = new List<double>();
        for (var second = 0; second <= 40; second += 10)
        {
            factors.Add(Math.Round(target.SlowStartFactor(time.GetTimestamp()), 3));
            time.Advance(TimeSpan.FromSeconds(10));
        }

        Assert.Equal([0.1, 0.4, 0.7, 1.0, 1.0], factors);
        Assert.Equal(10, target.EffectiveWeight(time.GetTimestamp()));
    }

    [Fact]
    public void SlowStart_Off_IsFullWeightAtOnce()
    {
        var time = Targets.Time();

        Assert.Equal(1, Targets.New("t0", time).SlowStartFactor(time.GetTimestamp()));
    }

    [Fact]
    public void Weight_OutOfRange_IsClamped()
    {
        var target = Targets.New("t0", Targets.Time());

        target.Weight = 0;
        Assert.Equal(1, target.Weight);
        target.Weight = 1000;
        Assert.Equal(256, target.Weight);
    }

    [Fact]
    public void ObserveLatency_SlowerAnswer_IsTakenAtOnce_FasterOnesDecayTowardIt()
    {
        var time = Targets.Time();
        var target = Targets.New("t0", time);
        Assert.True(double.IsNaN(target.LatencyEwmaMs(time.GetTimestamp())));

        target.ObserveLatency(10, time.GetTimestamp());
        target.ObserveLatency(100, time.GetTimestamp());
        var peak = target.LatencyEwmaMs(time.GetTimestamp());
        time.Advance(TimeSpan.FromSeconds(10));
        target.ObserveLatency(10, time.GetTimestamp());

        Assert.Equal(100, peak);
        Assert.Equal(10 + (90 * Math.Exp(-1)), target.LatencyEwmaMs(time.GetTimestamp()), precision: 6);
    }

    [Fact]
    public void LatencyEwma_WithoutNewAnswers_DecaysSoThatAnIdleSlowTaskIsTriedAgain()
    {
        var time = Targets.Time();
        var target = Targets.New("t0", time);
        target.ObserveLatency(100, time.GetTimestamp());

        time.Advance(TimeSpan.FromSeconds(20));

        Assert.Equal(100 * Math.Exp(-2), target.LatencyEwmaMs(time.GetTimestamp()), precision: 6);
    }

    [Fact]
    public void RequestStartedAndEnded_TrackInFlight()
    {
        var target = Targets.New("t0", Targets.Time());

        target.RequestStarted(0);
        target.RequestStarted(0);
        target.RequestEnded(0);

        Assert.Equal(1, target.InFlight);
    }

    [Fact]
    public void BusyTicks_IntegratesInFlightOverTime_AndIgnoresAStaleTimestamp()
    {
        var time = Targets.Time();
        var target = Targets.New("t0", time);
        var second = time.TimestampFrequency;
        var start = time.GetTimestamp();

        target.RequestStarted(start);
        target.RequestStarted(start);
        target.RequestEnded(start + second);          // 2 in flight for 1 s
        target.RequestStarted(start + (second / 2));   // late: stamped before the last change, adds no time

        Assert.Equal(2, target.InFlight);
        Assert.Equal(2 * second, target.BusyTicks(start + second));
        Assert.Equal((2 * second) + (2 * 3 * second), target.BusyTicks(start + (4 * second))); // then 2 for 3 s
        Assert.Equal(8 * second, target.BusyTicks(start + (2 * second)));                      // reading the past changes nothing
    }
}
