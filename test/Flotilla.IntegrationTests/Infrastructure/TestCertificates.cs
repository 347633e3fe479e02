using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Flotilla.IntegrationTests.Infrastructure;

/// <summary>Self-signed certificates written as PEM files, for https listeners in tests.</summary>
internal static class TestCertificates
{
    /// <summary>Writes <c>NAME.pem</c> (certificate) and <c>NAME.key</c> (private key) for <paramref name="dnsName"/> into <paramref name="directory"/>.</summary>
    public static void Write(string directory, string name, string dnsName)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={dnsName}", key, HashAlgorithmName.SHA256);
        var names = new SubjectAlternativeNameBuilder();
        names.AddDnsName(dnsName);
        request.CertificateExtensions.Add(names.Build());
        using var certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(7));
        File.WriteAllText(Path.Combine(directory, name + ".pem"), certificate.ExportCertificatePem());
        File.WriteAllText(Path.Combine(directory, name + ".key"), key.ExportPkcs8PrivateKeyPem());
    }
}
