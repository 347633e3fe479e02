using System.Collections.Immutable;
using Flotilla.Proxy.Targets;
using Microsoft.Extensions.Time.Testing;

namespace Flotilla.Tests.Proxy;

/// <summary>Targets for policy tests: plain objects on a fake clock.</summary>
internal static class Targets
{
    public static FakeTimeProvider Time() => new(new DateTimeOffset(2026, 11, 22, 10, 0, 0, TimeSpan.Zero));

    /// <summary>Targets t0, t1… with the given requests in flight, added at <paramref name="time"/>'s now.</summary>
    public static TargetSet WithInFlight(TimeProvider time, params int[] inFlight) =>
        Set(inFlight.Select((n, i) => Start(New($"t{i}", time), n)).ToArray());

    /// <summary>Idle targets t0, t1… with the given weights, added at <paramref name="time"/>'s now.</summary>
    public static TargetSet Weighted(TimeProvider time, params int[] weights) =>
        Set(weights.Select((w, i) => New($"t{i}", time, weight: w)).ToArray());

    public static TargetSet Idle(TimeProvider time, int count) => WithInFlight(time, new int[count]);

    public static TargetSet Set(params Target[] targets) => new(targets.ToImmutableArray());

    public static Target New(string id, TimeProvider time, TimeSpan slowStart = default, int port = 4000, int weight = Target.DefaultWeight) =>
        new(id, "shop", 1, port, time.GetTimestamp(), slowStart, time.TimestampFrequency) { Weight = weight };

    /// <summary>Starts <paramref name="requests"/> requests on the target, as the proxy does before forwarding.</summary>
    public static Target Start(Target target, int requests)
    {
        for (var k = 0; k < requests; k++)
        {
            target.RequestStarted(target.AddedTimestamp);
        }

        return target;
    }

    /// <summary>A target that has answered in <paramref name="latencyMs"/>.</summary>
    public static Target Answered(string id, TimeProvider time, double latencyMs, int inFlight = 0)
    {
        var target = Start(New(id, time), inFlight);
        target.ObserveLatency(latencyMs, time.GetTimestamp());
        return target;
    }
}
