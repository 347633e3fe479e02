using System.Collections.Frozen;
using System.Collections.Immutable;
using Flotilla.Core.Spec;

namespace Flotilla.Proxy.Routing;

/// <summary>A rule ready to match requests: every condition of the spec's rule, precompiled.</summary>
internal sealed class CompiledRule
{
    private readonly PathMatch _path;
    private readonly string _prefix;
    private readonly string? _host;
    private readonly string? _hostSuffix;
    private readonly (string Name, string[] Patterns)[] _headers;
    private readonly FrozenSet<string>? _methods;
    private readonly (string Name, string[] Patterns)[] _query;

    public CompiledRule(string listener, int index, RuleSpec rule, FrozenDictionary<string, ServiceSpec> services)
    {
        Id = $"{listener}/rules[{index}]";
        Spec = rule;
        Action = CompiledAction.Compile(rule.Action, rule.Timeout, services);
        _path = rule.Path;
        _prefix = rule.Path.Value.TrimEnd('/');
        _host = rule.Host;
        _hostSuffix = rule.Host is { } h && h.StartsWith("*.", StringComparison.Ordinal) ? h[1..] : null;
        _headers = rule.Headers.Select(kv => (kv.Key, kv.Value.ToArray())).ToArray();
        _methods = rule.Methods.IsEmpty ? null : rule.Methods.ToFrozenSet(StringComparer.OrdinalIgnoreCase);
        _query = rule.Query.Select(kv => (kv.Key, kv.Value.ToArray())).ToArray();
    }

    /// <summary><c>web/rules[2]</c>: how access logs and errors name the rule.</summary>
    public string Id { get; }

    public RuleSpec Spec { get; }

    public CompiledAction Action { get; }

    public bool Matches(IRequestFields request) =>
        MatchesPath(request.Path)
        && MatchesHost(request.HostName)
        && (_methods is null || _methods.Contains(request.Method))
        && MatchesHeaders(request)
        && MatchesQuery(request);

    /// <summary>Case-sensitive, as ALB's path conditions are.</summary>
    private bool MatchesPath(string path) => _path.Kind switch
    {
        PathMatchKind.Exact => string.Equals(path, _path.Value, StringComparison.Ordinal),
        PathMatchKind.Wildcard => Wildcard.IsMatch(path, _path.Value, StringComparison.Ordinal),

        // Whole segments: /api matches /api and /api/x, not /apix.
        _ => _prefix.Length == 0 || (path.StartsWith(_prefix, StringComparison.Ordinal) && (path.Length == _prefix.Length || path[_prefix.Length] == '/')),
    };

    private bool MatchesHost(string host) =>
        _host is null
        || (_hostSuffix is null
            ? string.Equals(host, _host, StringComparison.OrdinalIgnoreCase)
            : host.Length > _hostSuffix.Length && host.EndsWith(_hostSuffix, StringComparison.OrdinalIgnoreCase));

    /// <summary>Every named header must be present with a value that matches one of its patterns (ignoring case, as ALB).</summary>
    private bool MatchesHeaders(IRequestFields request)
    {
        foreach (var (name, patterns) in _headers)
        {
            if (!AnyMatches(request.Header(name), patterns))
            {
                return false;
            }
        }

        return true;
    }

    private bool MatchesQuery(IRequestFields request)
    {
        foreach (var (name, patterns) in _query)
        {
            if (!AnyMatches(request.Query(name), patterns))
            {
                return false;
            }
        }

        return true;
    }

    private static bool AnyMatches(Microsoft.Extensions.Primitives.StringValues values, string[] patterns)
    {
        foreach (var value in values)
        {
            foreach (var pattern in patterns)
            {
                if (value is not null && Wildcard.IsMatch(value, pattern, StringComparison.OrdinalIgnoreCase))
                {
                    return true;
                }
            }
        }

        return false;
    }
}

/// <summary>
/// Each listener's rules in evaluation order — by priority (lower first), then those without a priority in the order
/// written — and its default action for a request no rule matches.
/// </summary>
internal sealed class Router
{
    private readonly FrozenDictionary<string, (ImmutableArray<CompiledRule> Rules, CompiledAction Default)> _listeners;

    public Router(FlotillaSpec spec)
    {
        var services = spec.Services.ToFrozenDictionary(s => s.Name, StringComparer.Ordinal);
        _listeners = spec.Listeners.ToFrozenDictionary(
            l => l.Name,
            l => (l.Rules
                    .Select((rule, i) => (Rule: new CompiledRule(l.Name, i, rule, services), Order: i))
                    .OrderBy(x => x.Rule.Spec.Priority ?? int.MaxValue)
                    .ThenBy(x => x.Order)
                    .Select(x => x.Rule)
                    .ToImmutableArray(),
                CompiledAction.Compile(l.Default, null, services)),
            StringComparer.Ordinal);
    }

    /// <summary>The first rule of the listener that matches, or null.</summary>
    public CompiledRule? Match(string listener, IRequestFields request)
    {
        if (!_listeners.TryGetValue(listener, out var routes))
        {
            return null;
        }

        foreach (var rule in routes.Rules)
        {
            if (rule.Matches(request))
            {
                return rule;
            }
        }

        return null;
    }

    /// <summary>What a request that matches no rule of the listener gets.</summary>
    public CompiledAction Default(string listener) => _listeners[listener].Default;
}

/// <summary>Glob matching with <c>*</c> (any run of characters) and <c>?</c> (one character), without regular expressions.</summary>
internal static class Wildcard
{
    public static bool IsMatch(ReadOnlySpan<char> text, ReadOnlySpan<char> pattern, StringComparison comparison)
    {
        if (pattern.IndexOfAny('*', '?') < 0)
        {
            return text.Equals(pattern, comparison);
        }

        var ignoreCase = comparison == StringComparison.OrdinalIgnoreCase;
        int t = 0, p = 0, star = -1, resume = 0;
        while (t < text.Length)
        {
            if (p < pattern.Length && (pattern[p] == '?' || Same(text[t], pattern[p], ignoreCase)))
            {
                t++;
                p++;
            }
            else if (p < pattern.Length && pattern[p] == '*')
            {
                star = p++;
                resume = t;
            }
            else if (star >= 0)
            {
                p = star + 1;
                t = ++resume;
            }
            else
            {
                return false;
            }
        }

        while (p < pattern.Length && pattern[p] == '*')
        {
            p++;
        }

        return p == pattern.Length;
    }

    private static bool Same(char a, char b, bool ignoreCase) => a == b || (ignoreCase && char.ToUpperInvariant(a) == char.ToUpperInvariant(b));
}
