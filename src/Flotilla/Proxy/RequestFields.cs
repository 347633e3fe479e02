using System.Net;
using Microsoft.Extensions.Primitives;

namespace Flotilla.Proxy;

/// <summary>
/// What routing and load balancing read of a request: the same fields whether Kestrel parsed it
/// (<see cref="HttpRequestFields"/>) or the HTTP/1.1 fast path did (<see cref="FastPath.Http1RequestHead"/>), so that
/// both paths route and pick alike.
/// </summary>
internal interface IRequestFields
{
    string Method { get; }

    /// <summary>The decoded path, as Kestrel's <c>Request.Path</c>.</summary>
    string Path { get; }

    /// <summary>The Host header, port included.</summary>
    string Host { get; }

    /// <summary>The Host header's host, without its port.</summary>
    string HostName { get; }

    /// <summary>The client's address: the peer, or the address a trusted proxy forwarded for.</summary>
    IPAddress ClientAddress { get; }

    /// <summary>Every value of a header (names ignore case); empty when absent.</summary>
    StringValues Header(string name);

    /// <summary>Every value of a query parameter (names ignore case); empty when absent.</summary>
    StringValues Query(string name);

    /// <summary>A cookie's value, or null.</summary>
    string? Cookie(string name);
}

/// <summary>A Kestrel request as <see cref="IRequestFields"/>.</summary>
internal sealed class HttpRequestFields(HttpContext context) : IRequestFields
{
    public string Method => context.Request.Method;

    public string Path => context.Request.Path.Value ?? "/";

    public string Host => context.Request.Host.Value ?? "";

    public string HostName => context.Request.Host.Host;

    public IPAddress ClientAddress => RequestInfo.ClientAddress(context);

    public StringValues Header(string name) => context.Request.Headers[name];

    public StringValues Query(string name) => context.Request.Query[name];

    public string? Cookie(string name) => context.Request.Cookies[name];
}
