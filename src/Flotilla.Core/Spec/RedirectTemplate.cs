using System.Collections.Immutable;
using System.Text;

namespace Flotilla.Core.Spec;

/// <summary>
/// Redirect locations as ALB writes them: <c>#{scheme}</c>, <c>#{host}</c>, <c>#{port}</c>, <c>#{path}</c> and
/// <c>#{query}</c> are filled from the request. <c>#{query}</c> carries its own <c>?</c> and is empty when the request
/// has no query, so <c>https://#{host}#{path}#{query}</c> is right either way.
/// </summary>
public static class RedirectTemplate
{
    public static ImmutableArray<string> Variables { get; } = ["scheme", "host", "port", "path", "query"];

    /// <summary>The values of one request, for <see cref="Expand"/>.</summary>
    public readonly record struct RequestParts(string Scheme, string Host, string Port, string Path, string Query);

    /// <summary>Null when the template is well formed and produces an absolute URL or a path; else what is wrong.</summary>
    public static string? Validate(string template)
    {
        if (!Ascii.IsValid(template) || template.AsSpan().IndexOfAnyInRange('\0', ' ') >= 0)
        {
            return "must be ASCII without spaces or control characters: percent-encode the others (e.g. %C3%A9 for é)";
        }

        var unknown = Names(template).FirstOrDefault(n => !Variables.Contains(n));
        if (unknown is not null)
        {
            return $"unknown variable #{{{unknown}}}; known: {string.Join(", ", Variables.Select(v => $"#{{{v}}}"))}";
        }

        if (template.Contains("#{", StringComparison.Ordinal) && Names(template).Count() != CountOpenings(template))
        {
            return "'#{' has no closing '}'";
        }

        return template.StartsWith('/') || template.StartsWith("#{scheme}://", StringComparison.Ordinal)
            || template.StartsWith("http://", StringComparison.Ordinal) || template.StartsWith("https://", StringComparison.Ordinal)
            ? null
            : "must start with http://, https://, #{scheme}:// or /";
    }

    public static string Expand(string template, RequestParts parts)
    {
        var sb = new StringBuilder(template.Length + 32);
        var i = 0;
        while (i < template.Length)
        {
            var open = template.IndexOf("#{", i, StringComparison.Ordinal);
            var close = open < 0 ? -1 : template.IndexOf('}', open);
            if (close < 0)
            {
                sb.Append(template, i, template.Length - i);
                break;
            }

            sb.Append(template, i, open - i);
            sb.Append(template[(open + 2)..close] switch
            {
                "scheme" => parts.Scheme,
                "host" => parts.Host,
                "port" => parts.Port,
                "path" => parts.Path,
                "query" => parts.Query,
                _ => "",
            });
            i = close + 1;
        }

        return sb.ToString();
    }

    private static IEnumerable<string> Names(string template)
    {
        for (var open = template.IndexOf("#{", StringComparison.Ordinal); open >= 0; open = template.IndexOf("#{", open + 2, StringComparison.Ordinal))
        {
            var close = template.IndexOf('}', open);
            if (close < 0)
            {
                yield break;
            }

            yield return template[(open + 2)..close];
        }
    }

    private static int CountOpenings(string template)
    {
        var count = 0;
        for (var open = template.IndexOf("#{", StringComparison.Ordinal); open >= 0; open = template.IndexOf("#{", open + 2, StringComparison.Ordinal))
        {
            count++;
        }

        return count;
    }
}
