using Flotilla.Api;

namespace Flotilla.Tests.Proxy;

public sealed class AdminTokenTests
{
    [Fact]
    public void Matches_TheTokenItself_IsTrue()
    {
        var token = new AdminToken();

        Assert.True(token.Matches(token.Value));
    }

    [Theory]
    [InlineData("")]
    [InlineData("short")]
    [InlineData("a-token-of-forty-three-characters-but-wrong")]
    public void Matches_AnythingElse_IsFalse(string candidate) => Assert.False(new AdminToken().Matches(candidate));

    [Fact]
    public void New_Tokens_AreRandomAndNeverPrinted()
    {
        var a = new AdminToken();
        var b = new AdminToken();

        Assert.NotEqual(a.Value, b.Value);
        Assert.True(a.Value.Length >= 43);
        Assert.DoesNotContain(a.Value, a.ToString(), StringComparison.Ordinal);
    }
}
