using System.Collections.Immutable;

namespace Flotilla.Core.Spec;

/// <summary>How a service moves from one revision to the next.</summary>
public enum DeploymentStrategy
{
    /// <summary>Replace tasks a few at a time, within <see cref="DeploymentSpec.MinHealthyPercent"/> and <see cref="DeploymentSpec.MaxPercent"/> (ECS's rolling update).</summary>
    Rolling,

    /// <summary>Shift a growing share of traffic to a few new tasks, comparing their errors and latency with the old ones at each step.</summary>
    Canary,

    /// <summary>Start a full set of new tasks, switch all traffic at once, keep the old set idle for a bake time.</summary>
    BlueGreen,
}

/// <summary>
/// A service's deployment settings. Defaults are ECS's: a rolling update that keeps 100% of the desired count healthy,
/// may run up to 200%, and rolls back when the deployment circuit breaker trips.
/// </summary>
public sealed record DeploymentSpec
{
    /// <summary><c>rolling</c> (default), <c>canary</c> or <c>blue_green</c>.</summary>
    public DeploymentStrategy Strategy { get; init; } = DeploymentStrategy.Rolling;

    /// <summary>Share of the desired count that must stay healthy during a rolling deployment, rounded up. Default 100; 0 to 100.</summary>
    public int MinHealthyPercent { get; init; } = 100;

    /// <summary>Share of the desired count that may run (old and new together), rounded down. Default 200; 100 to 400.</summary>
    public int MaxPercent { get; init; } = 200;

    /// <summary>
    /// The deployment circuit breaker (ECS's): once clamp(⌈desired / 2⌉, 3, 200) new tasks have failed to become healthy,
    /// the deployment fails. Default true.
    /// </summary>
    public bool CircuitBreaker { get; init; } = true;

    /// <summary>When a deployment fails, deploy the last revision whose deployment completed. Default true.</summary>
    public bool Rollback { get; init; } = true;

    /// <summary><c>canary</c>: the percentages of traffic, in order, that the new revision gets; the last must be 100. Default 5, 25, 50, 100.</summary>
    public ImmutableArray<int> Steps { get; init; } = [5, 25, 50, 100];

    /// <summary><c>canary</c>: how long each step lasts before it is judged. Default 2m; 5s to 1h.</summary>
    public TimeSpan StepDuration { get; init; } = TimeSpan.FromMinutes(2);

    /// <summary><c>canary</c>: what a step must show to be promoted.</summary>
    public CanaryAnalysisSpec Analysis { get; init; } = new();

    /// <summary><c>blue_green</c>: how long the old set stays idle after the switch, ready for an instant rollback. Default 5m; 0s to 24h.</summary>
    public TimeSpan BakeTime { get; init; } = TimeSpan.FromMinutes(5);
}

/// <summary>The canary's bar at each step, compared with the stable revision over the same window.</summary>
public sealed record CanaryAnalysisSpec
{
    /// <summary>Largest share of the canary's requests that may fail (5xx or no answer). Default 1%; 0% to 100%.</summary>
    public double MaxErrorRate { get; init; } = 0.01;

    /// <summary>Largest ratio of the canary's p99 latency to the stable revision's. Default 1.5; 1 to 100.</summary>
    public double MaxP99Ratio { get; init; } = 1.5;

    /// <summary>Requests the canary must have served in a step for its figures to count; with fewer, the step is not judged. Default 20; 1 to 1,000,000.</summary>
    public int MinRequests { get; init; } = 20;
}
