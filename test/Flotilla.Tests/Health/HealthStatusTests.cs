using Flotilla.Core.Health;
using Flotilla.Core.Spec;

namespace Flotilla.Tests.Health;

public sealed class HealthStatusTests
{
    private static readonly HealthCheckSpec Spec = new() { HealthyThreshold = 2, UnhealthyThreshold = 3 };
    private static readonly DateTimeOffset Now = new(2026, 11, 22, 10, 0, 0, TimeSpan.Zero);
    private static readonly HealthCheckResult Fail = HealthCheckResult.Fail("HTTP 503");

    private static HealthStatus Run(HealthStatus status, bool inGrace, params bool[] passes) =>
        passes.Aggregate(status, (s, pass) => s.Observe(pass ? HealthCheckResult.Pass : Fail, Now, inGrace, Spec));

    [Fact]
    public void Observe_PassesBelowHealthyThreshold_StaysUnknown() =>
        Assert.Equal(HealthState.Unknown, Run(HealthStatus.Initial, false, true).State);

    [Fact]
    public void Observe_HealthyThresholdPassesInARow_BecomesHealthy() =>
        Assert.Equal(HealthState.Healthy, Run(HealthStatus.Initial, false, true, true).State);

    [Fact]
    public void Observe_FailureBetweenPasses_RestartsTheCount() =>
        Assert.Equal(HealthState.Unknown, Run(HealthStatus.Initial, true, true, false, true).State);

    [Fact]
    public void Observe_UnhealthyThresholdFailuresAfterGrace_BecomesUnhealthyWithTheLastReason()
    {
        var status = Run(HealthStatus.Initial, false, false, false, false);

        Assert.Equal(HealthState.Unhealthy, status.State);
        Assert.Equal(3, status.ConsecutiveFailures);
        Assert.Equal("HTTP 503", status.LastFailure);
    }

    [Fact]
    public void Observe_FailuresDuringGrace_DoNotCountButAreRemembered()
    {
        var status = Run(HealthStatus.Initial, true, false, false, false, false, false);

        Assert.Equal(HealthState.Unknown, status.State);
        Assert.Equal(0, status.ConsecutiveFailures);
        Assert.Equal("HTTP 503", status.LastFailure);
    }

    [Fact]
    public void Observe_PassesDuringGrace_CountAndMakeItHealthy() =>
        Assert.Equal(HealthState.Healthy, Run(HealthStatus.Initial, true, true, true).State);

    [Fact]
    public void Observe_HealthyTaskFailingFewerThanThreshold_StaysHealthy() =>
        Assert.Equal(HealthState.Healthy, Run(Run(HealthStatus.Initial, false, true, true), false, false, false).State);

    [Fact]
    public void Observe_HealthyTaskFailingThreshold_BecomesUnhealthy() =>
        Assert.Equal(HealthState.Unhealthy, Run(Run(HealthStatus.Initial, false, true, true), false, false, false, false).State);

    [Fact]
    public void Observe_UnhealthyTaskPassingThreshold_BecomesHealthyAgain() =>
        Assert.Equal(HealthState.Healthy, Run(Run(HealthStatus.Initial, false, false, false, false), false, true, true).State);
}
