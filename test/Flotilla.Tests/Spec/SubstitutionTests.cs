using Flotilla.Core.Spec;

namespace Flotilla.Tests.Spec;

public sealed class SubstitutionTests
{
    private static readonly Dictionary<string, string> Values = new() { ["PORT"] = "4100", ["TASK_ID"] = "shop-2", ["SERVICE"] = "shop" };

    [Theory]
    [InlineData("http://127.0.0.1:${PORT}", "http://127.0.0.1:4100")]
    [InlineData("${SERVICE}/${TASK_ID}", "shop/shop-2")]
    [InlineData("cost: $$5", "cost: $5")]
    [InlineData("$HOME stays", "$HOME stays")]
    [InlineData("trailing $", "trailing $")]
    [InlineData("plain", "plain")]
    public void Apply_Template_SubstitutesKnownVariables(string template, string expected) =>
        Assert.Equal(expected, Substitution.Apply(template, Values));

    [Theory]
    [InlineData("${PORT}", null)]
    [InlineData("$$ and ${TASK_ID}", null)]
    [InlineData("${HOME}", "unknown variable ${HOME}")]
    [InlineData("${PORT", "'${' has no closing '}'")]
    public void Validate_Template_ReportsUnknownOrUnclosedVariables(string template, string? expectedStart)
    {
        var error = Substitution.Validate(template);

        if (expectedStart is null)
        {
            Assert.Null(error);
        }
        else
        {
            Assert.StartsWith(expectedStart, error);
        }
    }
}
