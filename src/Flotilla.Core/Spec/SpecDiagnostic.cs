namespace Flotilla.Core.Spec;

/// <summary>One problem with a spec, written the way compilers write them so that editors can jump to it.</summary>
/// <example><c>samples/flotilla.yaml:14 services.shop.health.interval: must be between 1s and 300s, got 0s</c></example>
public sealed record SpecDiagnostic(string File, int Line, string Path, string Message)
{
    public override string ToString() => Path.Length == 0 ? $"{File}:{Line} {Message}" : $"{File}:{Line} {Path}: {Message}";
}

/// <summary>The line each spec path was read from, so that checks made after parsing can still point into the file.</summary>
public sealed class SourceMap(IReadOnlyDictionary<string, int> lines)
{
    public static SourceMap Empty { get; } = new(new Dictionary<string, int>());

    /// <summary>
    /// The line of <paramref name="path"/>, or of its nearest ancestor when the field was left to its default
    /// (so an error about a defaulted <c>health.timeout</c> points at <c>health:</c>). Line 1 when nothing matches.
    /// </summary>
    public int LineOf(string path)
    {
        for (var p = path; ; p = Parent(p))
        {
            if (lines.TryGetValue(p, out var line))
            {
                return line;
            }

            if (p.Length == 0)
            {
                return 1;
            }
        }
    }

    private static string Parent(string path)
    {
        var cut = Math.Max(path.LastIndexOf('.'), path.LastIndexOf('['));
        return cut <= 0 ? "" : path[..cut];
    }
}
