using System.Collections;
using System.Globalization;
using System.Reflection;
using Flotilla.Core.Spec;

namespace Flotilla.Core.Deployments;

/// <summary>
/// Field-level differences between two spec values, in the spec's own words: <c>health.interval: 2s → 1s</c>,
/// <c>command: [dotnet, a.dll] → [dotnet, b.dll]</c>. It walks the spec records by reflection, so a field added to the
/// spec is compared without more code. Environment values are never written out — they may hold secrets — only that
/// they were added, removed or changed.
/// </summary>
public static class SpecDiff
{
    public static List<string> Compare(object? before, object? after, string path)
    {
        var changes = new List<string>();
        Walk(before, after, path, changes);
        return changes;
    }

    private static void Walk(object? before, object? after, string path, List<string> changes)
    {
        if (Equals(before, after))
        {
            return;
        }

        if (before is not null && after is not null && before.GetType() != after.GetType())
        {
            // A different kind of the same thing (a rule that forwarded now answers itself): no field to compare.
            changes.Add($"{path}: {Kind(before)} → {Kind(after)}");
            return;
        }

        if (before is null || after is null || !IsRecord(before.GetType()))
        {
            if (IsDictionary(before) || IsDictionary(after))
            {
                WalkDictionary(before as IDictionary, after as IDictionary, path, changes);
            }
            else if (RecordItems(before) is { } beforeItems && RecordItems(after) is { } afterItems)
            {
                WalkItems(beforeItems, afterItems, path, changes);
            }
            else if (!SameSequence(before, after))
            {
                changes.Add($"{path}: {Show(before)} → {Show(after)}");
            }

            return;
        }

        foreach (var property in before.GetType().GetProperties(BindingFlags.Public | BindingFlags.Instance).Where(p => p.SetMethod is not null))
        {
            Walk(property.GetValue(before), property.GetValue(after), Join(path, YamlName(property.Name)), changes);
        }
    }

    /// <summary>
    /// Lists of records (a listener's rules, a rule's weighted services) item by item, so that an unchanged list is no
    /// change and a changed one names the field: <c>rules[1].path: /api → /v2</c>, <c>rules[2]: added</c>.
    /// </summary>
    private static void WalkItems(List<object?> before, List<object?> after, string path, List<string> changes)
    {
        for (var i = 0; i < Math.Max(before.Count, after.Count); i++)
        {
            if (i >= before.Count || i >= after.Count)
            {
                changes.Add($"{path}[{i}]: {(i >= before.Count ? "added" : "removed")}");
            }
            else
            {
                Walk(before[i], after[i], $"{path}[{i}]", changes);
            }
        }
    }

    /// <summary>The items of a sequence of records (not of strings, numbers or single-value records); null for anything else.</summary>
    private static List<object?>? RecordItems(object? value) =>
        value is IEnumerable items and not string && value.GetType().GetInterfaces().FirstOrDefault(i => i.IsGenericType && i.GetGenericTypeDefinition() == typeof(IEnumerable<>)) is { } enumerable
        && IsRecord(enumerable.GetGenericArguments()[0])
            ? items.Cast<object?>().ToList()
            : null;

    private static void WalkDictionary(IDictionary? before, IDictionary? after, string path, List<string> changes)
    {
        var keys = (before?.Keys.Cast<object>() ?? []).Concat(after?.Keys.Cast<object>() ?? []).Select(k => k.ToString()!).Distinct().Order(StringComparer.Ordinal);
        var secret = path.EndsWith("env", StringComparison.Ordinal);
        foreach (var key in keys)
        {
            var had = before?.Contains(key) == true;
            var has = after?.Contains(key) == true;
            var entry = $"{path}.{key}";
            if (had && !has)
            {
                changes.Add($"{entry}: removed");
            }
            else if (!had && has)
            {
                changes.Add(secret ? $"{entry}: added" : $"{entry}: added ({Show(after![key])})");
            }
            else if (!SameSequence(before![key], after![key]))
            {
                changes.Add(secret ? $"{entry}: changed" : $"{entry}: {Show(before[key])} → {Show(after[key])}");
            }
        }
    }

    /// <summary>Records compared field by field; a few spec records are single values, written whole (<c>127.0.0.1:8080</c>, <c>/api</c>).</summary>
    private static bool IsRecord(Type type) =>
        type.IsClass && type != typeof(string) && type.GetMethod("<Clone>$") is not null && type != typeof(ListenAddress) && type != typeof(PathMatch);

    private static bool IsDictionary(object? value) => value is IDictionary;

    /// <summary>Equal, or both sequences with equal items (immutable arrays compare by reference otherwise).</summary>
    private static bool SameSequence(object? before, object? after) =>
        Equals(before, after)
        || (before is IEnumerable a and not string && after is IEnumerable b and not string && a.Cast<object?>().SequenceEqual(b.Cast<object?>()));

    private static string Show(object? value) => value switch
    {
        null => "none",
        string s => s.Length == 0 ? "\"\"" : s,
        TimeSpan t => Durations.Format(t),
        Enum e => e.ToString().ToLowerInvariant(),
        bool b => b ? "true" : "false",
        double d => d.ToString(CultureInfo.InvariantCulture),
        IEnumerable items => "[" + string.Join(", ", items.Cast<object?>().Select(Show)) + "]",
        _ => value.ToString() ?? "",
    };

    /// <summary>A record's kind for a message: <c>ForwardAction</c> is <c>forward</c>, <c>FixedResponseAction</c> <c>fixedResponse</c>.</summary>
    private static string Kind(object value) =>
        IsRecord(value.GetType()) ? YamlName(value.GetType().Name.Replace("Action", "", StringComparison.Ordinal)) : Show(value);

    internal static string YamlName(string property) => char.ToLowerInvariant(property[0]) + property[1..];

    private static string Join(string path, string name) => path.Length == 0 ? name : $"{path}.{name}";
}

/// <summary>
/// Which of a service's fields make its task definition — what a task runs and how it is checked — and so a revision.
/// The rest (desired, load balancing, deployment settings…) are the service's and change without a new revision, as
/// ECS separates a task definition from its service.
/// </summary>
public static class TaskDefinition
{
    public static IReadOnlyList<string> Fields { get; } = ["command", "env", "workingDirectory", "stopTimeout", "health", "liveness"];

    /// <summary>The task-definition changes from <paramref name="before"/> to <paramref name="after"/>; none means the same revision.</summary>
    public static List<string> Changes(ServiceSpec before, ServiceSpec after) =>
        SpecDiff.Compare(before, after, "").Where(IsTaskDefinition).ToList();

    /// <summary>Every change from <paramref name="before"/> to <paramref name="after"/>: the task definition's, and the service's (the rest).</summary>
    public static (List<string> TaskDefinition, List<string> Service) Split(ServiceSpec before, ServiceSpec after)
    {
        var changes = SpecDiff.Compare(before, after, "").ToLookup(IsTaskDefinition);
        return (changes[true].ToList(), changes[false].ToList());
    }

    /// <summary><paramref name="service"/> with the task-definition fields of <paramref name="revision"/>: what a deployment to that revision runs.</summary>
    public static ServiceSpec Apply(ServiceSpec service, ServiceSpec revision)
    {
        var result = service with { };
        foreach (var property in typeof(ServiceSpec).GetProperties().Where(p => p.SetMethod is not null && Fields.Contains(SpecDiff.YamlName(p.Name))))
        {
            property.SetValue(result, property.GetValue(revision));
        }

        return result;
    }

    private static bool IsTaskDefinition(string change) =>
        Fields.Any(f => change.StartsWith(f + ":", StringComparison.Ordinal) || change.StartsWith(f + ".", StringComparison.Ordinal));
}
