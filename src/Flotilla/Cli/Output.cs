using System.Globalization;
using Spectre.Console;

namespace Flotilla.Cli;

/// <summary>Human output for the CLI: plain, borderless, kubectl-like tables that also read well when piped to grep.</summary>
internal static class Output
{
    private static readonly Lazy<IAnsiConsole> Ansi = new(() =>
    {
        var console = AnsiConsole.Create(new AnsiConsoleSettings());
        if (Console.IsOutputRedirected)
        {
            // Piped output has no width; do not wrap table rows at Spectre's default of 80 columns.
            console.Profile.Width = 400;
        }

        return console;
    });

    public static void Table(IReadOnlyList<string> headers, IEnumerable<IReadOnlyList<string>> rows)
    {
        var table = new Table().Border(TableBorder.None).HideRowSeparators();
        foreach (var header in headers)
        {
            table.AddColumn(new TableColumn(new Text(header, new Style(decoration: Decoration.Bold))).PadLeft(0).PadRight(2));
        }

        foreach (var row in rows)
        {
            table.AddRow(row.Select(cell => (Spectre.Console.Rendering.IRenderable)Colored(cell)).ToArray());
        }

        Ansi.Value.Write(table);
    }

    /// <summary>Plain text, exactly as given: JSON and messages must not be wrapped or styled.</summary>
    public static void Line(string text) => Console.Out.WriteLine(text);

    /// <summary>"12s", "5m", "3h", "2d": how long ago, the way kubectl shows ages.</summary>
    public static string Age(DateTimeOffset? since, DateTimeOffset now)
    {
        if (since is null)
        {
            return "-";
        }

        var age = now - since.Value;
        return age.TotalSeconds < 120 ? $"{Math.Max(0, (int)age.TotalSeconds)}s"
            : age.TotalMinutes < 120 ? $"{(int)age.TotalMinutes}m"
            : age.TotalHours < 48 ? $"{(int)age.TotalHours}h"
            : $"{(int)age.TotalDays}d";
    }

    public static string Number(int? value) => value?.ToString(CultureInfo.InvariantCulture) ?? "-";

    private static Text Colored(string cell) => cell switch
    {
        "healthy" or "steady" => new Text(cell, new Style(Color.Green)),
        "unhealthy" or "backing off" => new Text(cell, new Style(Color.Red)),
        "unknown" or "converging" or "stopping" or "pending" => new Text(cell, new Style(Color.Yellow)),
        _ => new Text(cell),
    };
}
