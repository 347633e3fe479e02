using System.Collections.Frozen;
using System.Collections.Immutable;
using Flotilla.Core.Spec;

namespace Flotilla.Proxy.Routing;

/// <summary>A rule ready to match requests: the spec's rule with its path and host precomputed.</summary>
internal sealed class CompiledRule(string listener, int index, RuleSpec rule)
{
    private readonly string _prefix = rule.Path.TrimEnd('/');
    private readonly string? _hostSuffix = rule.Host is { } h && h.StartsWith("*.", StringComparison.Ordinal) ? h[1..] : null;

    /// <summary><c>web/rules[2]</c>: how access logs and errors name the rule.</summary>
    public string Id { get; } = $"{listener}/rules[{index}]";

    public RuleSpec Spec { get; } = rule;

    public bool Matches(HttpRequest request) => MatchesPath(request.Path.Value ?? "/") && MatchesHost(request.Host.Host);

    /// <summary>A prefix on whole segments, case-sensitive as in ALB: <c>/api</c> matches <c>/api</c> and <c>/api/x</c>, not <c>/apix</c>.</summary>
    private bool MatchesPath(string path) =>
        _prefix.Length == 0
        || (path.StartsWith(_prefix, StringComparison.Ordinal) && (path.Length == _prefix.Length || path[_prefix.Length] == '/'));

    private bool MatchesHost(string host) =>
        Spec.Host is null
        || (_hostSuffix is null
            ? string.Equals(host, Spec.Host, StringComparison.OrdinalIgnoreCase)
            : host.Length > _hostSuffix.Length && host.EndsWith(_hostSuffix, StringComparison.OrdinalIgnoreCase));
}

/// <summary>Each listener's rules, in the order they are evaluated; the first that matches wins.</summary>
internal sealed class Router(FlotillaSpec spec)
{
    private readonly FrozenDictionary<string, ImmutableArray<CompiledRule>> _rules = spec.Listeners.ToFrozenDictionary(
        l => l.Name,
        l => l.Rules.Select((rule, i) => new CompiledRule(l.Name, i, rule)).ToImmutableArray(),
        StringComparer.Ordinal);

    public CompiledRule? Match(string listener, HttpRequest request)
    {
        if (!_rules.TryGetValue(listener, out var rules))
        {
            return null;
        }

        foreach (var rule in rules)
        {
            if (rule.Matches(request))
            {
                return rule;
            }
        }

        return null;
    }
}
