using Flotilla.Core.Spec;

namespace Flotilla.Tests.Autoscaling;

/// <summary>Autoscaling specs for tests.</summary>
internal static class Policies
{
    public static ScalingPolicySpec Tracking(string name, string metric, double target, bool perTask = false) =>
        new() { Name = name, TargetTracking = new TargetTrackingSpec { Metric = metric, Target = target, PerTask = perTask } };

    public static ScalingPolicySpec Step(string name, string metric, double? upper, double? lower = null, int datapoints = 1, int periods = 1) =>
        new() { Name = name, Step = new StepScalingSpec { Metric = metric, Upper = upper, Lower = lower, Datapoints = datapoints, Periods = periods } };

    public static ScalingPolicySpec Scheduled(string name, string cron, string zone, int? min = null, int? max = null, int? desired = null) =>
        new() { Name = name, Scheduled = new ScheduledScalingSpec { Cron = cron, TimeZone = zone, Min = min, Max = max, Desired = desired } };

    /// <summary>Target tracking of 5 requests in flight per task, between <paramref name="min"/> and <paramref name="max"/>, with the defaults otherwise.</summary>
    public static AutoscalingSpec Concurrency(int min = 1, int max = 40) =>
        new() { Min = min, Max = max, Policies = [Tracking("concurrency", "active_requests", 5)] };
}
