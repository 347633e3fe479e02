namespace Flotilla.Core.Metrics;

/// <summary>Slot arithmetic on Unix seconds.</summary>
internal static class Slots
{
    /// <summary>Division rounding down, so that a slot before the epoch still lands in the chunk or minute holding it.</summary>
    public static long FloorDiv(long value, long divisor) => Math.DivRem(value, divisor, out var remainder) - (remainder < 0 ? 1 : 0);

    public static long MinuteOf(long second) => FloorDiv(second, 60);

    public static bool IsLastSecondOfMinute(long second) => MinuteOf(second + 1) != MinuteOf(second);
}
