using System.Security.Cryptography;
using System.Text;

namespace Flotilla.Api;

/// <summary>
/// Guards <c>/api</c>: <c>Authorization: Bearer TOKEN</c> with the token from admin.json, compared in constant time.
/// It runs before model binding, so a request without the token learns nothing, not even that its body was malformed.
/// The token is never logged.
/// </summary>
internal sealed class BearerTokenMiddleware(RequestDelegate next, AdminToken token)
{
    public Task InvokeAsync(HttpContext context)
    {
        var header = context.Request.Headers.Authorization.ToString();
        if (header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase) && token.Matches(header.AsSpan(7).Trim()))
        {
            return next(context);
        }

        context.Response.Headers.WWWAuthenticate = "Bearer";
        return Results.Problem(
            statusCode: StatusCodes.Status401Unauthorized,
            title: "Unauthorized",
            detail: "a valid bearer token is required: see admin.json in Flotilla's state directory, or set FLOTILLA_TOKEN").ExecuteAsync(context);
    }
}

/// <summary>The admin API's bearer token: 256 random bits, made at each start.</summary>
internal sealed class AdminToken
{
    private readonly byte[] _bytes;

    public AdminToken()
    {
        Value = Convert.ToBase64String(RandomNumberGenerator.GetBytes(32)).TrimEnd('=').Replace('+', '-').Replace('/', '_');
        _bytes = Encoding.ASCII.GetBytes(Value);
    }

    public string Value { get; }

    public bool Matches(ReadOnlySpan<char> candidate)
    {
        Span<byte> bytes = stackalloc byte[64];
        return candidate.Length == Value.Length
            && Encoding.ASCII.GetBytes(candidate, bytes) == _bytes.Length
            && CryptographicOperations.FixedTimeEquals(bytes[.._bytes.Length], _bytes);
    }

    /// <summary>Never the token itself, should this object ever end up in a log line.</summary>
    public override string ToString() => "AdminToken(****)";
}
