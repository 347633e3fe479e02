using System.Security.Cryptography;
using System.Text;
using Flotilla.Proxy.Targets;

namespace Flotilla.Proxy.Forwarding;

/// <summary>
/// The sticky-session cookie's value: the task's id with an HMAC, so that a client can carry the pin but not forge one
/// (ALB's cookie is opaque for the same reason). The key is new at each start; a pin from before a restart is simply
/// not honoured and is rewritten.
/// </summary>
internal sealed class StickyCookie
{
    private readonly byte[] _key = RandomNumberGenerator.GetBytes(32);

    /// <summary>
    /// The target for <paramref name="request"/> to <paramref name="group"/>: with sticky sessions, the task the
    /// request's cookie pins while that task is eligible; else (or without them) the service's algorithm's pick. Both
    /// paths of the load balancer pick through here. Null when no target is eligible.
    /// </summary>
    /// <remarks>
    /// <paramref name="setCookie"/> is the <c>Set-Cookie</c> header value that pins the client to the picked task (secure
    /// when <paramref name="scheme"/> is https), when the pin is new or has moved: the pinned task is gone, or the cookie
    /// is not one this instance wrote. Null otherwise.
    /// </remarks>
    public Target? Pick(TargetGroup group, IRequestFields request, string scheme, out string? setCookie)
    {
        setCookie = null;
        if (group.Service.Stickiness is not { } stickiness)
        {
            return group.Pick(request);
        }

        var pinned = Parse(request.Cookie(stickiness.Cookie));
        var target = (pinned is null ? null : group.FindEligible(pinned)) ?? group.Pick(request);
        if (target is not null && pinned != target.TaskId)
        {
            // What Response.Cookies.Append writes: the value escaped, then the attributes.
            setCookie = new CookieOptions
            {
                HttpOnly = true,
                Path = "/",
                SameSite = SameSiteMode.Lax,
                Secure = scheme == "https",
                MaxAge = stickiness.Ttl,
            }.CreateCookieHeader(stickiness.Cookie, Uri.EscapeDataString(Format(target.TaskId))).ToString();
        }

        return target;
    }

    private string Format(string taskId) => taskId + "." + Signature(taskId);

    /// <summary>The pinned task, when the value is one this instance wrote.</summary>
    private string? Parse(string? value)
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
