using System.Globalization;
using System.Text;

namespace Flotilla.Core;

/// <summary>
/// Durations as the spec writes them: <c>250ms</c>, <c>5s</c>, <c>2m</c>, <c>1h</c>, or a sum such as <c>1m30s</c>.
/// A bare <c>0</c> is zero. Units are required otherwise, so that <c>interval: 5</c> is an error, not five ticks.
/// </summary>
public static class Durations
{
    /// <summary>Rounded up to the second: "1s left" rather than "0.25s left", and never "0s left" while some is.</summary>
    public static TimeSpan CeilingSeconds(TimeSpan value) => TimeSpan.FromSeconds(Math.Ceiling(value.TotalSeconds));

    public static bool TryParse(string? text, out TimeSpan value)
    {
        value = TimeSpan.Zero;
        if (string.IsNullOrWhiteSpace(text))
        {
            return false;
        }

        var s = text.Trim();
        if (s == "0")
        {
            return true;
        }

        var total = 0.0;
        var i = 0;
        while (i < s.Length)
        {
            var start = i;
            while (i < s.Length && (char.IsAsciiDigit(s[i]) || s[i] == '.'))
            {
                i++;
            }

            if (i == start || !double.TryParse(s.AsSpan(start, i - start), NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var number))
            {
                return false;
            }

            var unitStart = i;
            while (i < s.Length && char.IsAsciiLetter(s[i]))
            {
                i++;
            }

            double? millisecondsPerUnit = s[unitStart..i] switch
            {
                "ms" => 1,
                "s" => 1_000,
                "m" => 60_000,
                "h" => 3_600_000,
                _ => null,
            };
            if (millisecondsPerUnit is null)
            {
                return false;
            }

            total += number * millisecondsPerUnit.Value;
        }

        if (total > TimeSpan.MaxValue.TotalMilliseconds / 2)
        {
            return false;
        }

        value = TimeSpan.FromMilliseconds(total);
        return true;
    }

    /// <summary>Formats the way the spec is written: <c>250ms</c>, <c>5s</c>, <c>1m30s</c>.</summary>
    public static string Format(TimeSpan value)
    {
        if (value == TimeSpan.Zero)
        {
            return "0s";
        }

        if (value < TimeSpan.Zero)
        {
            return "-" + Format(value.Negate());
        }

        if (value < TimeSpan.FromSeconds(1))
        {
            return value.TotalMilliseconds.ToString("0.###", CultureInfo.InvariantCulture) + "ms";
        }

        var sb = new StringBuilder();
        var hours = (long)value.TotalHours;
        if (hours > 0)
        {
            sb.Append(hours.ToString(CultureInfo.InvariantCulture)).Append('h');
        }

        if (value.Minutes > 0)
        {
            sb.Append(value.Minutes.ToString(CultureInfo.InvariantCulture)).Append('m');
        }

        var seconds = value.Seconds + (value.Milliseconds / 1000.0);
        if (seconds > 0)
        {
            sb.Append(seconds.ToString("0.###", CultureInfo.InvariantCulture)).Append('s');
        }

        return sb.ToString();
    }
}
