using System.Globalization;
using System.Net;

namespace Flotilla.Core.Spec;

/// <summary>
/// An address to bind to, written <c>host:port</c>: <c>127.0.0.1:8080</c>, <c>[::1]:8080</c>, <c>localhost:8080</c>.
/// Port 0 asks the OS for a free port; the bound address is then published in <c>admin.json</c>.
/// </summary>
public sealed record ListenAddress(string Host, int Port)
{
    /// <summary>Stands in for a required address the spec left out, so that validation can report it.</summary>
    public static ListenAddress Missing { get; } = new("", -1);

    public static bool TryParse(string? text, out ListenAddress address, out string error)
    {
        address = new ListenAddress("", 0);
        error = "";
        if (string.IsNullOrWhiteSpace(text))
        {
            error = "must be host:port, e.g. 127.0.0.1:8080";
            return false;
        }

        var colon = text.LastIndexOf(':');
        if (colon <= 0 || colon == text.Length - 1)
        {
            error = $"must be host:port, e.g. 127.0.0.1:8080, got '{text}'";
            return false;
        }

        var host = text[..colon];
        if (host.StartsWith('[') && host.EndsWith(']'))
        {
            host = host[1..^1];
        }

        if (host != "localhost" && !IPAddress.TryParse(host, out _))
        {
            error = $"host must be an IP address or 'localhost', got '{host}'";
            return false;
        }

        if (!int.TryParse(text.AsSpan(colon + 1), NumberStyles.None, CultureInfo.InvariantCulture, out var port) || port > 65535)
        {
            error = $"port must be a number from 0 to 65535, got '{text[(colon + 1)..]}'";
            return false;
        }

        address = new ListenAddress(host, port);
        return true;
    }

    /// <summary>True when only this machine can connect.</summary>
    public bool IsLoopback => Host == "localhost" || (IPAddress.TryParse(Host, out var ip) && IPAddress.IsLoopback(ip));

    public IPAddress ToIPAddress() => Host == "localhost" ? IPAddress.Loopback : IPAddress.Parse(Host);

    public override string ToString() => Host.Contains(':') ? $"[{Host}]:{Port}" : $"{Host}:{Port}";
}
