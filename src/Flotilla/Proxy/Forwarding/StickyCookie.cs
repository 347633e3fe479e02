using System.Security.Cryptography;
using System.Text;

namespace Flotilla.Proxy.Forwarding;

/// <summary>
/// The sticky-session cookie's value: the task's id with an HMAC, so that a client can carry the pin but not forge one
/// (ALB's cookie is opaque for the same reason). The key is new at each start; a pin from before a restart is simply
/// not honoured and is rewritten.
/// </summary>
internal sealed class StickyCookie
{
    private readonly byte[] _key = RandomNumberGenerator.GetBytes(32);

    public string Format(string taskId) => taskId + "." + Signature(taskId);

    /// <summary>The pinned task, when the value is one this instance wrote.</summary>
    public string? Parse(string? value)
    {
        var dot = value?.LastIndexOf('.') ?? -1;
        if (dot <= 0)
        {
            return null;
        }

        var taskId = value![..dot];
        var expected = Signature(taskId);
        return CryptographicOperations.FixedTimeEquals(Encoding.ASCII.GetBytes(value[(dot + 1)..]), Encoding.ASCII.GetBytes(expected)) ? taskId : null;
    }

    private string Signature(string taskId) =>
        Convert.ToBase64String(HMACSHA256.HashData(_key, Encoding.UTF8.GetBytes(taskId)).AsSpan(0, 12)).Replace('+', '-').Replace('/', '_');
}
