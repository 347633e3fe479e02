using Flotilla.Core.Deployments;
using Flotilla.Core.Spec;

namespace Flotilla.Tests.Deployments;

/// <summary><see cref="SpecDiff"/>: what <c>flotilla apply</c> prints as changed, field by field.</summary>
public sealed class SpecDiffTests
{
    /// <summary>A listener's rules, indented as in a spec.</summary>
    private const string Rules = """
            rules:
              - path: /api/*
                methods: [GET, POST]
                headers: { X-Env: [beta, "qa*"] }
                forward:
                  - service: shop
                    weight: 90
                  - service: canary
                    weight: 10
              - path: /
                service: shop
        """;

    [Fact]
    public void Compare_TheSameRulesLoadedTwice_IsNoChange()
    {
        Assert.Empty(SpecDiff.Compare(Listener(Rules), Listener(Rules), "listeners[0]"));
    }

    [Fact]
    public void Compare_ChangedRules_NamesEachChangedFieldByItsIndex()
    {
        var changed = Rules.Replace("weight: 10", "weight: 20", StringComparison.Ordinal).Replace("- path: /\n", "- path: /v2\n", StringComparison.Ordinal)
            + "\n      - path: /old\n        redirect: { location: \"/\" }";

        Assert.Equal(
            ["listeners[0].rules[0].action.services[1].weight: 10 → 20", "listeners[0].rules[1].path: / → /v2", "listeners[0].rules[2]: added"],
            SpecDiff.Compare(Listener(Rules), Listener(changed), "listeners[0]"));
    }

    [Fact]
    public void Compare_ARuleWhoseActionChangesKind_SaysWhichKinds()
    {
        var answering = Rules.Replace("path: /\n        service: shop", "path: /\n        fixedResponse: { status: 503, body: down }", StringComparison.Ordinal);

        Assert.Equal(["listeners[0].rules[1].action: forward → fixedResponse"], SpecDiff.Compare(Listener(Rules), Listener(answering), "listeners[0]"));
    }

    private static ListenerSpec Listener(string rules)
    {
        var yaml = "listeners:\n  - name: web\n    listen: 127.0.0.1:0\n" + rules + "\nservices:\n  shop: { command: [app] }\n  canary: { command: [app] }\n";
        var result = SpecLoader.Load(yaml, "f.yaml", "/specs");
        Assert.True(result.IsValid, string.Join("\n", result.Errors));
        return Assert.Single(result.Document!.Spec.Listeners);
    }
}
