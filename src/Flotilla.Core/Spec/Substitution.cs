using System.Collections.Immutable;
using System.Text;

namespace Flotilla.Core.Spec;

/// <summary>
/// <c>${PORT}</c>-style variables in a service's command and env. Only the names in <see cref="Variables"/> exist,
/// so that a typo is an error at validation rather than an empty string at run time; <c>$$</c> writes a literal <c>$</c>.
/// </summary>
public static class Substitution
{
    public const string Port = "PORT";
    public const string TaskId = "TASK_ID";
    public const string Service = "SERVICE";

    public static ImmutableArray<string> Variables { get; } = [Port, TaskId, Service];

    /// <summary>Null when <paramref name="template"/> is well formed, else what is wrong with it.</summary>
    public static string? Validate(string template)
    {
        string? error = null;
        Expand(template, name =>
        {
            error ??= Variables.Contains(name)
                ? null
                : $"unknown variable ${{{name}}}; known: {string.Join(", ", Variables.Select(v => $"${{{v}}}"))} (write $$ for a literal $)";
            return "";
        }, e => error ??= e);
        return error;
    }

    public static string Apply(string template, IReadOnlyDictionary<string, string> values) =>
        Expand(template, name => values.TryGetValue(name, out var value) ? value : "", _ => { });

    private static string Expand(string template, Func<string, string> lookup, Action<string> onError)
    {
        if (!template.Contains('$'))
        {
            return template;
        }

        var sb = new StringBuilder(template.Length + 8);
        for (var i = 0; i < template.Length; i++)
        {
            var c = template[i];
            if (c != '$' || i + 1 >= template.Length)
            {
                sb.Append(c);
                continue;
            }

            var next = template[i + 1];
            if (next == '$')
            {
                sb.Append('$');
                i++;
            }
            else if (next == '{')
            {
                var end = template.IndexOf('}', i + 2);
                if (end < 0)
                {
                    onError("'${' has no closing '}'");
                    sb.Append(template, i, template.Length - i);
                    break;
                }

                sb.Append(lookup(template[(i + 2)..end]));
                i = end;
            }
            else
            {
                sb.Append(c);
            }
        }

        return sb.ToString();
    }
}
