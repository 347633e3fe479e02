using System.Collections.Immutable;
using System.Net;
using Flotilla.Core.Spec;
using Microsoft.Extensions.Primitives;

namespace Flotilla.Proxy.Forwarding;

/// <summary>
/// Which peers may speak for their clients: a listener's <c>trustedProxies</c>. From them, the X-Forwarded-For chain is
/// kept and the client is the nearest address in it that is not itself a trusted proxy; from anyone else the chain is
/// replaced, so that a client cannot spoof its address.
/// </summary>
internal sealed class TrustedProxies
{
    private readonly ImmutableArray<IPNetwork> _networks;

    public TrustedProxies(IEnumerable<string> entries)
    {
        _networks = entries
            .Select(e => IPNetwork.TryParse(e, out var network) ? network : new IPNetwork(IPAddress.Parse(e), IPAddress.Parse(e).GetAddressBytes().Length * 8))
            .ToImmutableArray();
    }

    public static TrustedProxies For(ListenerSpec listener) => new(listener.TrustedProxies);

    public bool IsEmpty => _networks.IsEmpty;

    public bool Contains(IPAddress address)
    {
        if (address.IsIPv4MappedToIPv6)
        {
            address = address.MapToIPv4();
        }

        foreach (var network in _networks)
        {
            if (network.Contains(address))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>
    /// The client behind a trusted peer: walking X-Forwarded-For from the right (nearest hop first), the first address
    /// that is not a trusted proxy; the leftmost when all are trusted; the peer when the chain is missing or unreadable.
    /// </summary>
    public IPAddress ClientBehind(IPAddress peer, StringValues forwardedFor)
    {
        var hops = forwardedFor.SelectMany(v => (v ?? "").Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries)).ToArray();
        var client = peer;
        for (var i = hops.Length - 1; i >= 0; i--)
        {
            if (!IPAddress.TryParse(hops[i], out var hop))
            {
                return client;
            }

            client = hop;
            if (!Contains(hop))
            {
                return hop;
            }
        }

        return client;
    }
}
