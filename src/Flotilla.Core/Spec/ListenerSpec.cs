using System.Collections.Immutable;

namespace Flotilla.Core.Spec;

/// <summary>How a listener speaks to clients.</summary>
public enum ListenerProtocol
{
    Http,
    Https,
}

/// <summary>A port the load balancer accepts client traffic on, and the rules that route it.</summary>
public sealed record ListenerSpec
{
    /// <summary>Kestrel's own default limit on a request body, which Flotilla keeps: 30,000,000 bytes.</summary>
    public const long DefaultMaxBodySize = 30_000_000;

    /// <summary>Required. Lower-case letters, digits and '-'; unique among listeners.</summary>
    public required string Name { get; init; }

    /// <summary>Required. <c>host:port</c> to accept on.</summary>
    public required ListenAddress Listen { get; init; }

    /// <summary><c>http</c> (default) or <c>https</c>, which needs <see cref="Tls"/>.</summary>
    public ListenerProtocol Protocol { get; init; } = ListenerProtocol.Http;

    /// <summary>Certificates for an https listener. Default: none.</summary>
    public TlsSpec? Tls { get; init; }

    /// <summary>
    /// Offer HTTP/2 as well as HTTP/1.1, negotiated by ALPN. Default: on for https listeners. Like ALB, only over TLS: on a
    /// cleartext port, HTTP/2 by prior knowledge would shut out HTTP/1.1 clients.
    /// </summary>
    public bool? Http2 { get; init; }

    /// <summary>Whether HTTP/2 is offered: <see cref="Http2"/>, else on for https.</summary>
    public bool OffersHttp2 => Http2 ?? Protocol == ListenerProtocol.Https;

    /// <summary>
    /// <c>https</c> to answer every request on this (http) listener with a 301 to the same URL on the spec's first https
    /// listener, instead of routing it. Default: none.
    /// </summary>
    public string? Redirect { get; init; }

    /// <summary>Largest request body accepted; larger ones get 413. Default 30,000,000 bytes (written <c>30MB</c>).</summary>
    public long MaxBodySize { get; init; } = DefaultMaxBodySize;

    /// <summary>
    /// Addresses or CIDR ranges of proxies in front of this listener whose X-Forwarded-For, -Proto and -Host are believed
    /// and extended. From anyone else those headers are replaced. Default: none.
    /// </summary>
    public ImmutableArray<string> TrustedProxies { get; init; } = [];

    /// <summary>
    /// Serve plain HTTP/1.1 requests on Flotilla's lean forwarding path (http listeners only); requests it does not take
    /// go through Kestrel and YARP as with <c>false</c>. Default true. Changes apply to new connections.
    /// </summary>
    public bool FastPath { get; init; } = true;

    /// <summary>Keep a client's <c>X-Request-Id</c> instead of making a new one. Default false.</summary>
    public bool TrustRequestId { get; init; }

    /// <summary>What a request that matches no rule gets. Default: 404 with a short text body.</summary>
    public RuleAction Default { get; init; } = RuleAction.NotFound;

    /// <summary>
    /// Evaluated by <see cref="RuleSpec.Priority"/> (lower first), then in the order written; the first that matches acts.
    /// Required, at least one, unless the listener redirects.
    /// </summary>
    public ImmutableArray<RuleSpec> Rules { get; init; } = [];
}

/// <summary>TLS termination: PEM certificates, chosen per connection by SNI.</summary>
public sealed record TlsSpec
{
    /// <summary>
    /// Required, at least one. The first is the default; for each connection the first certificate whose names match the
    /// client's SNI is used.
    /// </summary>
    public ImmutableArray<CertificateSpec> Certificates { get; init; } = [];
}

/// <summary>A certificate chain and its private key, as PEM files; paths relative to the spec file's directory.</summary>
public sealed record CertificateSpec
{
    public required string Cert { get; init; }

    public required string Key { get; init; }
}
