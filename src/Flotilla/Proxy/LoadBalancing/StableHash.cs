using System.IO.Hashing;
using System.Net;
using System.Runtime.InteropServices;
using Microsoft.Extensions.Primitives;

namespace Flotilla.Proxy.LoadBalancing;

/// <summary>
/// The hashes the hashing policies place keys and targets with. They must give the same value in every process and
/// after every restart — a client must keep its task across a Flotilla restart, and a ring must be rebuilt identically —
/// so <see cref="string.GetHashCode()"/>, which is randomized per process, will not do. XxHash64 is fast, well
/// distributed and allocation-free over a span.
/// </summary>
internal static class StableHash
{
    /// <summary>Hashes the text's UTF-16 code units as they lie in memory (little-endian on every platform Flotilla runs on).</summary>
    public static ulong Of(ReadOnlySpan<char> text, ulong seed = 0) =>
        XxHash64.HashToUInt64(MemoryMarshal.AsBytes(text), (long)seed);

    /// <summary>Hashes every value in order, so that a repeated header is one key.</summary>
    public static ulong Of(StringValues values)
    {
        var hash = 0UL;
        foreach (var value in values)
        {
            hash = Of(value, hash);
        }

        return hash;
    }

    /// <summary>Hashes the address bytes; an IPv4 address reaching a dual-stack socket as <c>::ffff:a.b.c.d</c> hashes as <c>a.b.c.d</c>.</summary>
    public static ulong Of(IPAddress address)
    {
        Span<byte> bytes = stackalloc byte[16];
        address.TryWriteBytes(bytes, out var written);
        return XxHash64.HashToUInt64(address.IsIPv4MappedToIPv6 ? bytes[12..16] : bytes[..written]);
    }
}
