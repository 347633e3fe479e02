using System.Reflection;
using Flotilla.Core.Spec;

namespace Flotilla.Tests.Spec;

public sealed class SpecDocsTests
{
    public static TheoryData<string> Fields()
    {
        Type[] records =
        [
            typeof(FlotillaSpec), typeof(AdminSpec), typeof(AccessLogSpec), typeof(ListenerSpec), typeof(TlsSpec), typeof(CertificateSpec), typeof(RuleSpec),
            typeof(ServiceSpec), typeof(LoadBalancingSpec), typeof(HealthCheckSpec), typeof(StickinessSpec), typeof(OutlierDetectionSpec),
            typeof(DeploymentSpec), typeof(CanaryAnalysisSpec),
            typeof(ResourcesSpec), typeof(AutoscalingSpec), typeof(ScalingPolicySpec), typeof(TargetTrackingSpec), typeof(StepScalingSpec),
            typeof(StepAdjustmentSpec), typeof(ScheduledScalingSpec),
        ];
        var fields = records
            .SelectMany(t => t.GetProperties(BindingFlags.Public | BindingFlags.Instance).Where(p => p.SetMethod is not null))
            .Where(p => !(p.DeclaringType == typeof(ServiceSpec) && p.Name == nameof(ServiceSpec.Name)))

            // A rule's action is written as one of its keys (service, forward, fixedResponse, redirect), each documented.
            .Where(p => !(p.DeclaringType == typeof(RuleSpec) && p.Name == nameof(RuleSpec.Action)))
            .Select(p => char.ToLowerInvariant(p.Name[0]) + p.Name[1..]);
        return new TheoryData<string>(fields.Distinct());
    }

    [Theory]
    [MemberData(nameof(Fields))]
    public void SpecReference_EveryField_IsDocumented(string field)
    {
        var docs = File.ReadAllText(Path.Combine(SpecLoaderTests.RepositoryRoot(), "docs", "spec.md"));

        Assert.True(docs.Contains($"`{field}`", StringComparison.Ordinal) || docs.Contains($".{field}`", StringComparison.Ordinal), $"docs/spec.md does not describe `{field}`");
    }
}
