using System.Collections.Immutable;

namespace Flotilla.Core.Spec;

/// <summary>A match on the request and what to do with a request that matches.</summary>
public sealed record RuleSpec
{
    /// <summary>Lower first; rules without a priority come after those with one, in the order written. Default: none; 1 to 50,000.</summary>
    public int? Priority { get; init; }

    /// <summary>The path to match. Default: every path (prefix <c>/</c>).</summary>
    public PathMatch Path { get; init; } = PathMatch.Everything;

    /// <summary>Host to match (<c>shop.example.com</c> or <c>*.example.com</c>), without port, ignoring case. Default: any host.</summary>
    public string? Host { get; init; }

    /// <summary>Headers that must be present with one of the given values (ignoring case; <c>*</c> matches any run of characters). Default: none.</summary>
    public ImmutableSortedDictionary<string, ImmutableArray<string>> Headers { get; init; } = ImmutableSortedDictionary<string, ImmutableArray<string>>.Empty;

    /// <summary>Methods to match (<c>GET</c>, <c>POST</c>…). Default: any.</summary>
    public ImmutableArray<string> Methods { get; init; } = [];

    /// <summary>Query parameters that must be present with one of the given values (<c>*</c> as for headers). Default: none.</summary>
    public ImmutableSortedDictionary<string, ImmutableArray<string>> Query { get; init; } = ImmutableSortedDictionary<string, ImmutableArray<string>>.Empty;

    /// <summary>Required: forward (to one service or to weighted services), a fixed response, or a redirect.</summary>
    public required RuleAction Action { get; init; }

    /// <summary>
    /// How long the task may stay silent (no response byte) before the request is answered 504; overrides the service's
    /// <c>timeout</c>. Default: the service's.
    /// </summary>
    public TimeSpan? Timeout { get; init; }
}

/// <summary>How a rule's path is compared with the request's (case-sensitively, as ALB does).</summary>
public enum PathMatchKind
{
    /// <summary>The whole path, exactly.</summary>
    Exact,

    /// <summary>A prefix on whole segments: <c>/api</c> matches <c>/api</c> and <c>/api/7</c>, not <c>/apix</c>.</summary>
    Prefix,

    /// <summary>A pattern where <c>*</c> matches any run of characters, <c>/</c> included, and <c>?</c> one character.</summary>
    Wildcard,
}

/// <summary>A rule's path: written <c>/api</c> (prefix), <c>/img/*.png</c> (wildcard, when it has <c>*</c> or <c>?</c>), or <c>{ exact: /health }</c>.</summary>
public sealed record PathMatch(PathMatchKind Kind, string Value)
{
    public static PathMatch Everything { get; } = new(PathMatchKind.Prefix, "/");

    /// <summary>The short form's reading: a wildcard if it has <c>*</c> or <c>?</c>, else a prefix.</summary>
    public static PathMatch Parse(string text) => new(text.AsSpan().IndexOfAny('*', '?') >= 0 ? PathMatchKind.Wildcard : PathMatchKind.Prefix, text);

    public override string ToString() => Kind == PathMatchKind.Prefix ? Value : $"{Kind.ToString().ToLowerInvariant()}:{Value}";
}

/// <summary>What a matching rule does.</summary>
public abstract record RuleAction
{
    /// <summary>A listener's default: 404 with a short text body.</summary>
    public static RuleAction NotFound { get; } = new FixedResponseAction(404, "no rule matched\n", "text/plain; charset=utf-8");
}

/// <summary>Forward to one service, or split among several by weight (<c>forward: [{ service: shop, weight: 90 }, …]</c>).</summary>
public sealed record ForwardAction(ImmutableArray<WeightedService> Services) : RuleAction
{
    public static ForwardAction To(string service) => new([new WeightedService(service, 1)]);

    public bool Equals(ForwardAction? other) => other is not null && Services.SequenceEqual(other.Services);

    public override int GetHashCode() => Services.Aggregate(0, (hash, s) => HashCode.Combine(hash, s));
}

/// <summary>One service of a weighted forward. Weights are relative; 0 sends nothing (a canary parked at 0).</summary>
public sealed record WeightedService(string Service, int Weight);

/// <summary>Answer without forwarding.</summary>
public sealed record FixedResponseAction(int Status, string Body, string ContentType) : RuleAction;

/// <summary>
/// Answer with a redirect. The location is a template: <c>#{scheme}</c>, <c>#{host}</c> (without port), <c>#{port}</c>,
/// <c>#{path}</c> and <c>#{query}</c> (with its <c>?</c>, or empty) are filled from the request, as in ALB.
/// </summary>
public sealed record RedirectAction(int Status, string Location) : RuleAction;
