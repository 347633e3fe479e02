using Flotilla.Core.Spec;

namespace Flotilla.Core.Health;

/// <summary>What the active health check says about a task.</summary>
public enum HealthState
{
    /// <summary>Not yet passed <c>healthyThreshold</c> checks in a row, nor failed <c>unhealthyThreshold</c> after its grace period.</summary>
    Unknown,

    /// <summary>Passed <c>healthyThreshold</c> checks in a row: it takes traffic.</summary>
    Healthy,

    /// <summary>Failed <c>unhealthyThreshold</c> checks in a row after its grace period: it takes no traffic and is replaced.</summary>
    Unhealthy,
}

/// <summary>The outcome of one health check.</summary>
/// <param name="Passed">A 2xx or 3xx answer within the timeout.</param>
/// <param name="Detail">Why it failed (<c>HTTP 503</c>, <c>connection refused</c>, <c>timed out after 1s</c>); null on a pass.</param>
public readonly record struct HealthCheckResult(bool Passed, string? Detail)
{
    public static HealthCheckResult Pass { get; } = new(true, null);

    public static HealthCheckResult Fail(string detail) => new(false, detail);
}

/// <summary>
/// The health state machine of one task: consecutive passes and failures against the thresholds, with failures
/// ignored during the grace period (ECS's rule: a slow starter is not killed, but a fast one may take traffic early).
/// </summary>
public sealed record HealthStatus
{
    public static HealthStatus Initial { get; } = new();

    public HealthState State { get; init; } = HealthState.Unknown;

    public int ConsecutivePasses { get; init; }

    public int ConsecutiveFailures { get; init; }

    /// <summary>Why the last failed check failed, kept after later passes so that a flapping task can be explained.</summary>
    public string? LastFailure { get; init; }

    public DateTimeOffset? LastCheckedAt { get; init; }

    /// <summary>The state after one more check.</summary>
    public HealthStatus Observe(HealthCheckResult result, DateTimeOffset at, bool inGracePeriod, HealthCheckSpec spec)
    {
        if (result.Passed)
        {
            var passes = ConsecutivePasses + 1;
            return this with
            {
                ConsecutivePasses = passes,
                ConsecutiveFailures = 0,
                LastCheckedAt = at,
                State = passes >= spec.HealthyThreshold ? HealthState.Healthy : State,
            };
        }

        if (inGracePeriod)
        {
            return this with { ConsecutivePasses = 0, LastFailure = result.Detail, LastCheckedAt = at };
        }

        var failures = ConsecutiveFailures + 1;
        return this with
        {
            ConsecutivePasses = 0,
            ConsecutiveFailures = failures,
            LastFailure = result.Detail,
            LastCheckedAt = at,
            State = failures >= spec.UnhealthyThreshold ? HealthState.Unhealthy : State,
        };
    }
}
