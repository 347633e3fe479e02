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
        new(inFlight.Select((n, i) =>
        {
            var target = New($"t{i}", time);
            for (var k = 0; k < n; k++)
            {
                target.RequestStarted();
            }

            return target;
        }).ToImmutableArray());

    public static TargetSet Idle(TimeProvider time, int count) => WithInFlight(time, new int[count]);

    public static Target New(string id, TimeProvider time, TimeSpan slowStart = default, int port = 4000) =>
        new(id, "shop", 1, port, time.GetTimestamp(), slowStart, time.TimestampFrequency);
}
