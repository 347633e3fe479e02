using Cronos;

namespace Flotilla.Core.Autoscaling;

/// <summary>
/// A five-field cron expression in an IANA time zone. Cronos does the DST arithmetic: a local time that a spring-forward
/// skips fires once, at the jump; one that a fall-back repeats fires once, at its first instance.
/// </summary>
public sealed class CronSchedule
{
    /// <summary>How far back <see cref="Previous"/> looks, in growing steps so that a per-minute cron stays cheap: a yearly cron is the rarest one can write.</summary>
    private static readonly TimeSpan[] Lookbacks = [TimeSpan.FromHours(1), TimeSpan.FromDays(1), TimeSpan.FromDays(8), TimeSpan.FromDays(32), TimeSpan.FromDays(367)];

    private readonly CronExpression _expression;

    /// <summary>The zone its times are local to.</summary>
    private readonly TimeZoneInfo _zone;

    private CronSchedule(CronExpression expression, TimeZoneInfo zone)
    {
        _expression = expression;
        _zone = zone;
    }

    /// <summary>Parses <paramref name="cron"/> in <paramref name="timeZone"/>; the error says which of the two is wrong.</summary>
    public static bool TryParse(string cron, string timeZone, out CronSchedule schedule, out string cronError, out string zoneError)
    {
        schedule = null!;
        cronError = zoneError = "";
        CronExpression? expression = null;
        try
        {
            expression = CronExpression.Parse(cron, CronFormat.Standard);
        }
        catch (CronFormatException e)
        {
            const string Shape = "five fields (minute hour day-of-month month day-of-week), such as \"45 7 * * 1-5\"";
            var fields = cron.Split(' ', StringSplitOptions.RemoveEmptyEntries).Length;
            cronError = fields == 5
                ? $"not a valid cron expression: {e.Message.Replace("'\0'", "the end", StringComparison.Ordinal).TrimEnd('.')}"
                : $"has {fields} field{(fields == 1 ? "" : "s")}; a cron expression has {Shape}";
        }

        if (!TimeZoneInfo.TryFindSystemTimeZoneById(timeZone, out var zone))
        {
            zoneError = $"unknown time zone '{timeZone}'; write an IANA name such as Europe/Paris, America/New_York or UTC";
        }

        if (expression is null || zone is null)
        {
            return false;
        }

        schedule = new CronSchedule(expression, zone);
        return true;
    }

    /// <summary>The latest time at or before <paramref name="now"/> the schedule names, within the last year; null if none.</summary>
    public DateTimeOffset? Previous(DateTimeOffset now)
    {
        foreach (var lookback in Lookbacks)
        {
            var last = _expression.GetOccurrences(now - lookback, now, _zone, fromInclusive: true, toInclusive: true).LastOrDefault();
            if (last != default)
            {
                return last;
            }
        }

        return null;
    }

    /// <summary>The first time after <paramref name="now"/> the schedule names.</summary>
    public DateTimeOffset? Next(DateTimeOffset now) => _expression.GetNextOccurrence(now, _zone, inclusive: false);

    /// <summary>A time as people in the schedule's zone read it: <c>2026-03-30 07:45 Europe/Paris</c>.</summary>
    public string Local(DateTimeOffset time) => $"{TimeZoneInfo.ConvertTime(time, _zone):yyyy-MM-dd HH:mm} {_zone.Id}";
}
