using System.Collections.Immutable;
using System.Globalization;
using YamlDotNet.RepresentationModel;

namespace Flotilla.Core.Spec;

/// <summary>
/// Reads typed values out of a YAML tree while remembering the line of every path it reads and collecting
/// every error instead of stopping at the first. The spec readers are written on top of it.
/// </summary>
internal sealed class YamlFields
{
    private readonly List<(string Path, int Line, string Message)> _errors = [];
    private readonly Dictionary<string, int> _lines = new(StringComparer.Ordinal);

    public IReadOnlyList<(string Path, int Line, string Message)> Errors => _errors;

    public IReadOnlyDictionary<string, int> Lines => _lines;

    public void Error(string path, YamlNode? node, string message) =>
        _errors.Add((path, node is null ? LineOf(path) : Line(node), message));

    public void Error(string path, int line, string message) => _errors.Add((path, line, message));

    public static int Line(YamlNode node) => (int)node.Start.Line;

    public int LineOf(string path) => new SourceMap(_lines).LineOf(path);

    /// <summary>A mapping whose only allowed keys are <paramref name="keys"/>; null when the node is absent or not a mapping.</summary>
    public Mapping? Map(YamlNode? node, string path, params string[] keys)
    {
        if (node is null || IsNull(node))
        {
            return null;
        }

        Remember(path, node);
        if (node is not YamlMappingNode map)
        {
            Error(path, node, "must be a mapping of fields (key: value)");
            return null;
        }

        return new Mapping(this, map, path, keys);
    }

    /// <summary>Every entry of a mapping whose keys are names chosen by the user (service names, env variables).</summary>
    public IEnumerable<(string Key, YamlNode Value, string Path)> Entries(YamlNode? node, string path)
    {
        if (node is null || IsNull(node))
        {
            yield break;
        }

        Remember(path, node);
        if (node is not YamlMappingNode map)
        {
            Error(path, node, "must be a mapping (key: value)");
            yield break;
        }

        foreach (var (keyNode, value) in map.Children)
        {
            var key = KeyOf(keyNode);
            var childPath = Join(path, key);
            Remember(childPath, keyNode);
            yield return (key, value, childPath);
        }
    }

    public IEnumerable<(YamlNode Item, string Path)> Items(YamlNode? node, string path)
    {
        if (node is null || IsNull(node))
        {
            yield break;
        }

        Remember(path, node);
        if (node is not YamlSequenceNode seq)
        {
            Error(path, node, "must be a list");
            yield break;
        }

        for (var i = 0; i < seq.Children.Count; i++)
        {
            var childPath = $"{path}[{i}]";
            Remember(childPath, seq.Children[i]);
            yield return (seq.Children[i], childPath);
        }
    }

    public string? String(YamlNode? node, string path)
    {
        if (node is null || IsNull(node))
        {
            return null;
        }

        Remember(path, node);
        if (node is not YamlScalarNode scalar)
        {
            Error(path, node, "must be a single value, not a list or mapping");
            return null;
        }

        return scalar.Value;
    }

    public int? Int(YamlNode? node, string path)
    {
        var text = String(node, path);
        if (text is null)
        {
            return null;
        }

        if (int.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var value))
        {
            return value;
        }

        Error(path, node, $"must be a whole number, got '{text}'");
        return null;
    }

    public bool? Bool(YamlNode? node, string path)
    {
        var text = String(node, path);
        switch (text)
        {
            case null:
                return null;
            case "true" or "True" or "TRUE":
                return true;
            case "false" or "False" or "FALSE":
                return false;
            default:
                Error(path, node, $"must be true or false, got '{text}'");
                return null;
        }
    }

    /// <summary>A size in bytes: <c>1048576</c>, <c>512KB</c>, <c>10MB</c>, <c>1GB</c> (powers of 1000, as Kestrel's limits are written).</summary>
    public long? Size(YamlNode? node, string path)
    {
        var text = String(node, path);
        if (text is null)
        {
            return null;
        }

        var trimmed = text.Trim();
        var (digits, multiplier) = trimmed.EndsWith("GB", StringComparison.OrdinalIgnoreCase) ? (trimmed[..^2], 1_000_000_000L)
            : trimmed.EndsWith("MB", StringComparison.OrdinalIgnoreCase) ? (trimmed[..^2], 1_000_000L)
            : trimmed.EndsWith("KB", StringComparison.OrdinalIgnoreCase) ? (trimmed[..^2], 1_000L)
            : (trimmed, 1L);
        if (long.TryParse(digits, NumberStyles.None, CultureInfo.InvariantCulture, out var value) && value <= long.MaxValue / multiplier)
        {
            return value * multiplier;
        }

        Error(path, node, $"must be a size such as 1048576, 512KB, 10MB or 1GB, got '{text}'");
        return null;
    }

    /// <summary>One value or a list of values (<c>X-Env: prod</c> or <c>X-Env: [prod, staging]</c>).</summary>
    public ImmutableArray<string>? OneOrMany(YamlNode? node, string path) =>
        node is YamlSequenceNode ? StringList(node, path) : String(node, path) is { } single ? [single] : null;

    public double? Double(YamlNode? node, string path)
    {
        var text = String(node, path);
        if (text is null)
        {
            return null;
        }

        if (double.TryParse(text, NumberStyles.AllowDecimalPoint | NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var value))
        {
            return value;
        }

        Error(path, node, $"must be a number, got '{text}'");
        return null;
    }

    /// <summary>Records that a path's value is at <paramref name="node"/>, for fields written in a short form.</summary>
    public void Alias(string path, YamlNode node) => Remember(path, node);

    public TimeSpan? Duration(YamlNode? node, string path)
    {
        var text = String(node, path);
        if (text is null)
        {
            return null;
        }

        if (Durations.TryParse(text, out var value))
        {
            return value;
        }

        Error(path, node, $"must be a duration such as 250ms, 5s, 2m or 1h, got '{text}'");
        return null;
    }

    public ListenAddress? Address(YamlNode? node, string path)
    {
        var text = String(node, path);
        if (text is null)
        {
            return null;
        }

        if (ListenAddress.TryParse(text, out var address, out var error))
        {
            return address;
        }

        Error(path, node, error);
        return null;
    }

    public ImmutableArray<string>? StringList(YamlNode? node, string path)
    {
        if (node is null || IsNull(node))
        {
            return null;
        }

        if (node is YamlScalarNode)
        {
            Remember(path, node);
            Error(path, node, "must be a list of strings, e.g. [\"dotnet\", \"app.dll\"]");
            return null;
        }

        var builder = ImmutableArray.CreateBuilder<string>();
        foreach (var (item, itemPath) in Items(node, path))
        {
            builder.Add(String(item, itemPath) ?? "");
        }

        return builder.ToImmutable();
    }

    public ImmutableSortedDictionary<string, string>? StringMap(YamlNode? node, string path)
    {
        if (node is null || IsNull(node))
        {
            return null;
        }

        var builder = ImmutableSortedDictionary.CreateBuilder<string, string>(StringComparer.Ordinal);
        foreach (var (key, value, entryPath) in Entries(node, path))
        {
            builder[key] = String(value, entryPath) ?? "";
        }

        return builder.ToImmutable();
    }

    public static string Join(string path, string key) => path.Length == 0 ? key : $"{path}.{key}";

    private static string KeyOf(YamlNode keyNode) => keyNode is YamlScalarNode scalar ? scalar.Value ?? "" : keyNode.ToString();

    /// <summary>
    /// The first line recorded for a path wins: a field is remembered at its key, which for a block mapping or list is
    /// the line above its first value — the line a person would look at.
    /// </summary>
    private void Remember(string path, YamlNode node) => _lines.TryAdd(path, Line(node));

    private static bool IsNull(YamlNode node) =>
        node is YamlScalarNode { Style: YamlDotNet.Core.ScalarStyle.Plain, Value: null or "" or "~" or "null" or "Null" or "NULL" };

    /// <summary>A mapping with a fixed set of fields; asking for an undeclared field is a bug in Flotilla, not in the spec.</summary>
    internal sealed class Mapping
    {
        private readonly YamlFields _fields;
        private readonly YamlMappingNode _node;
        private readonly string[] _keys;
        private readonly Dictionary<string, YamlNode> _values = new(StringComparer.Ordinal);

        public Mapping(YamlFields fields, YamlMappingNode node, string path, string[] keys)
        {
            _fields = fields;
            _node = node;
            _keys = keys;
            Path = path;
            foreach (var (keyNode, value) in node.Children)
            {
                var key = KeyOf(keyNode);
                if (keys.Contains(key, StringComparer.Ordinal))
                {
                    _values[key] = value;
                    fields.Remember(Join(path, key), keyNode);
                }
                else
                {
                    var suggestion = Suggest(key, keys);
                    var hint = suggestion is null ? $"expected one of: {string.Join(", ", keys)}" : $"did you mean '{suggestion}'?";
                    fields.Error(Join(path, key), YamlFields.Line(keyNode), $"unknown field; {hint}");
                }
            }
        }

        public string Path { get; }

        public int Line => YamlFields.Line(_node);

        public YamlNode? this[string key]
        {
            get
            {
                if (!_keys.Contains(key, StringComparer.Ordinal))
                {
                    throw new InvalidOperationException($"'{key}' is not a declared field of '{Path}'.");
                }

                return _values.GetValueOrDefault(key);
            }
        }

        public bool Has(string key) => this[key] is not null;

        public string PathOf(string key) => Join(Path, key);

        public string? String(string key) => _fields.String(this[key], PathOf(key));

        public int? Int(string key) => _fields.Int(this[key], PathOf(key));

        public TimeSpan? Duration(string key) => _fields.Duration(this[key], PathOf(key));

        public double? Double(string key) => _fields.Double(this[key], PathOf(key));

        public bool? Bool(string key) => _fields.Bool(this[key], PathOf(key));

        public long? Size(string key) => _fields.Size(this[key], PathOf(key));

        public ListenAddress? Address(string key) => _fields.Address(this[key], PathOf(key));

        public ImmutableArray<string>? StringList(string key) => _fields.StringList(this[key], PathOf(key));

        public ImmutableSortedDictionary<string, string>? StringMap(string key) => _fields.StringMap(this[key], PathOf(key));

        private static string? Suggest(string key, string[] candidates) =>
            candidates
                .Select(c => (Candidate: c, Distance: EditDistance(key.ToLowerInvariant(), c.ToLowerInvariant())))
                .Where(x => x.Distance <= Math.Max(1, x.Candidate.Length / 4))
                .OrderBy(x => x.Distance)
                .Select(x => x.Candidate)
                .FirstOrDefault();

        private static int EditDistance(string a, string b)
        {
            var previous = new int[b.Length + 1];
            var current = new int[b.Length + 1];
            for (var j = 0; j <= b.Length; j++)
            {
                previous[j] = j;
            }

            for (var i = 1; i <= a.Length; i++)
            {
                current[0] = i;
                for (var j = 1; j <= b.Length; j++)
                {
                    var cost = a[i - 1] == b[j - 1] ? 0 : 1;
                    current[j] = Math.Min(Math.Min(current[j - 1] + 1, previous[j] + 1), previous[j - 1] + cost);
                }

                (previous, current) = (current, previous);
            }

            return previous[b.Length];
        }
    }
}
