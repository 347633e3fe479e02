using System.Globalization;
using System.Runtime.InteropServices;

namespace Flotilla.Telemetry;

/// <summary>A process's CPU time so far and its resident memory, as /proc reports them.</summary>
internal readonly record struct ProcessSample(long CpuTicks, long RssBytes);

/// <summary>Reads a process's CPU time and resident memory from /proc, and turns CPU ticks into a percentage.</summary>
internal static partial class ProcFs
{
    /// <summary>sysconf's name for clock ticks per second (glibc and musl on Linux).</summary>
    private const int ScClkTck = 2;

    /// <summary>The unit of utime and stime in /proc/PID/stat; 100 on every mainstream Linux, but asked rather than assumed.</summary>
    public static long ClockTicksPerSecond { get; } = Sysconf(ScClkTck) is > 0 and var ticks ? ticks : 100;

    /// <summary>Reads /proc/PID/stat and /proc/PID/statm; null when the process has gone.</summary>
    public static ProcessSample? Read(int pid)
    {
        try
        {
            return TryParseCpuTicks(File.ReadAllText($"/proc/{pid}/stat"), out var ticks)
                && TryParseResidentPages(File.ReadAllText($"/proc/{pid}/statm"), out var pages)
                ? new ProcessSample(ticks, pages * Environment.SystemPageSize)
                : null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    /// <summary>
    /// utime + stime, the process's user and system CPU time in clock ticks: fields 14 and 15 of /proc/PID/stat. The
    /// second field, the command name in parentheses, may itself hold spaces and parentheses, so fields are counted
    /// from the last ')'.
    /// </summary>
    public static bool TryParseCpuTicks(ReadOnlySpan<char> stat, out long ticks)
    {
        ticks = 0;
        var close = stat.LastIndexOf(')');
        if (close < 0)
        {
            return false;
        }

        // After ") " come field 3 (state) onwards: utime is the 12th of those, stime the 13th.
        Span<Range> fields = stackalloc Range[14];
        var rest = stat[(close + 1)..].Trim();
        if (rest.Split(fields, ' ', StringSplitOptions.RemoveEmptyEntries) < 13
            || !long.TryParse(rest[fields[11]], NumberStyles.None, CultureInfo.InvariantCulture, out var user)
            || !long.TryParse(rest[fields[12]], NumberStyles.None, CultureInfo.InvariantCulture, out var system))
        {
            return false;
        }

        ticks = user + system;
        return true;
    }

    /// <summary>The resident set size in pages: the second field of /proc/PID/statm.</summary>
    public static bool TryParseResidentPages(ReadOnlySpan<char> statm, out long pages)
    {
        pages = 0;
        Span<Range> fields = stackalloc Range[3];
        var text = statm.Trim();
        return text.Split(fields, ' ', StringSplitOptions.RemoveEmptyEntries) >= 2
            && long.TryParse(text[fields[1]], NumberStyles.None, CultureInfo.InvariantCulture, out pages);
    }

    /// <summary>CPU used between two samples as a percentage of one core: 100 is one core busy, 250 two and a half.</summary>
    public static double CpuPercent(long ticksBefore, long ticksAfter, TimeSpan elapsed, long ticksPerSecond) =>
        Math.Max(0, ticksAfter - ticksBefore) / (double)ticksPerSecond / elapsed.TotalSeconds * 100;

    [LibraryImport("libc", EntryPoint = "sysconf")]
    private static partial nint Sysconf(int name);
}
