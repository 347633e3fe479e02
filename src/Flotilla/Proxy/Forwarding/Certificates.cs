using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using Flotilla.Core.Spec;

namespace Flotilla.Proxy.Forwarding;

/// <summary>
/// An https listener's certificates, loaded from PEM files (leaf, then any intermediates, in the cert file; the key in
/// its own file), and the SNI choice among them: the first whose DNS names match the name the client asked for, else
/// the first. Each is served with its chain.
/// </summary>
internal sealed class Certificates
{
    private readonly List<(SslStreamCertificateContext Context, string[] Names)> _certificates;

    private Certificates(List<(SslStreamCertificateContext, string[])> certificates) => _certificates = certificates;

    /// <summary>Loads every certificate of a listener; throws with the file's name when one cannot be read.</summary>
    public static Certificates Load(TlsSpec tls, string baseDirectory) =>
        new(tls.Certificates.Select(c => LoadOne(c, baseDirectory)).ToList());

    /// <summary>Null when the pair loads, else why not: for preflight, before anything starts.</summary>
    public static string? Check(CertificateSpec certificate, string baseDirectory)
    {
        try
        {
            LoadOne(certificate, baseDirectory);
            return null;
        }
        catch (Exception e) when (e is IOException or System.Security.Cryptography.CryptographicException or ArgumentException or UnauthorizedAccessException)
        {
            return e.Message;
        }
    }

    public SslStreamCertificateContext Select(string? serverName)
    {
        if (!string.IsNullOrEmpty(serverName))
        {
            foreach (var (context, names) in _certificates)
            {
                if (names.Any(n => Matches(n, serverName)))
                {
                    return context;
                }
            }
        }

        return _certificates[0].Context;
    }

    private static (SslStreamCertificateContext, string[]) LoadOne(CertificateSpec spec, string baseDirectory)
    {
        var certPath = Path.GetFullPath(Path.Combine(baseDirectory, spec.Cert));
        var keyPath = Path.GetFullPath(Path.Combine(baseDirectory, spec.Key));
        using var leaf = X509Certificate2.CreateFromPemFile(certPath, keyPath);
        var chain = new X509Certificate2Collection();
        chain.ImportFromPemFile(certPath);

        // Ephemeral PEM keys are re-imported as a PKCS#12 blob so that SslStream can use the key on every platform.
        var usable = X509CertificateLoader.LoadPkcs12(leaf.Export(X509ContentType.Pkcs12), null);
        var intermediates = new X509Certificate2Collection(chain.Cast<X509Certificate2>().Where(c => c.Thumbprint != usable.Thumbprint).ToArray());
        var names = DnsNames(usable);
        return (SslStreamCertificateContext.Create(usable, intermediates, offline: true), names);
    }

    private static string[] DnsNames(X509Certificate2 certificate)
    {
        var names = certificate.Extensions.OfType<X509SubjectAlternativeNameExtension>().SelectMany(e => e.EnumerateDnsNames()).ToList();
        if (names.Count == 0 && certificate.GetNameInfo(X509NameType.DnsName, forIssuer: false) is { Length: > 0 } commonName)
        {
            names.Add(commonName);
        }

        return [.. names];
    }

    /// <summary>Exact, or a <c>*.example.com</c> wildcard that covers exactly one label, as TLS name matching does.</summary>
    private static bool Matches(string pattern, string name)
    {
        if (!pattern.StartsWith("*.", StringComparison.Ordinal))
        {
            return string.Equals(pattern, name, StringComparison.OrdinalIgnoreCase);
        }

        var dot = name.IndexOf('.', StringComparison.Ordinal);
        return dot > 0 && string.Equals(name[dot..], pattern[1..], StringComparison.OrdinalIgnoreCase);
    }
}
