using System.Collections.Immutable;
namespace Flotilla.Core.Spec;

/// <summary>A service: what to run, how many, and how to tell that a task of it is healthy.</summary>
public sealed record ServiceSpec
{
    /// <summary>Largest desired count a service may ask for: a guard against a typo starting thousands of processes on one machine.</summary>
    public const int MaxDesired = 100;

    /// <summary>The service's name, from its key under <c>services:</c>. Lower-case letters, digits and '-', starting with a letter.</summary>
    public required string Name { get; init; }

    /// <summary>
    /// Required. The program and its arguments, e.g. <c>["dotnet", "Shop.dll"]</c>. <c>${PORT}</c>, <c>${TASK_ID}</c> and
    /// <c>${SERVICE}</c> are substituted; <c>$$</c> is a literal <c>$</c>. A relative program path is relative to <see cref="WorkingDirectory"/>.
    /// </summary>
    public ImmutableArray<string> Command { get; init; } = [];

    /// <summary>
    /// Environment added to the task's, with the same substitutions as <see cref="Command"/>. Tasks also inherit Flotilla's
    /// environment and get <c>PORT</c>, <c>FLOTILLA_TASK_ID</c>, <c>FLOTILLA_SERVICE</c> and <c>FLOTILLA_REVISION</c>. Default: none.
    /// </summary>
    public ImmutableSortedDictionary<string, string> Env { get; init; } = ImmutableSortedDictionary<string, string>.Empty;

    /// <summary>The task's working directory, relative to the spec file's directory. Default: the spec file's directory.</summary>
    public string WorkingDirectory { get; init; } = ".";

    /// <summary>How many tasks to keep running. Default 1; 0 to <see cref="MaxDesired"/>.</summary>
    public int Desired { get; init; } = 1;

    /// <summary>How the load balancer picks a healthy task for each request. Default <c>round_robin</c>.</summary>
    public LoadBalancingSpec LoadBalancing { get; init; } = new();

    /// <summary>
    /// How long a task has to exit after SIGTERM before it gets SIGKILL. Default 10s, 0s to 120s (ECS's <c>stopTimeout</c>
    /// has the same bounds).
    /// </summary>
    public TimeSpan StopTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>The active HTTP health check.</summary>
    public HealthCheckSpec Health { get; init; } = new();
}

/// <summary>
/// The active health check: an HTTP GET to each task. A status from 200 to 399 is a pass.
/// Defaults sit between ALB's (30s/5s) and Kubernetes' (10s/1s); thresholds are ALB's healthy 2 / unhealthy 3.
/// </summary>
public sealed record HealthCheckSpec
{
    /// <summary>Path to GET. Default <c>/health</c>.</summary>
    public string Path { get; init; } = "/health";

    /// <summary>Time between checks of one task; the first check is one interval after the task starts. Default 10s, 1s to 300s.</summary>
    public TimeSpan Interval { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>How long to wait for an answer before the check fails. Default 2s, 100ms to 60s, and less than <see cref="Interval"/>.</summary>
    public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>Consecutive passes that make a task healthy, and so put it in the load balancer. Default 2, 1 to 10.</summary>
    public int HealthyThreshold { get; init; } = 2;

    /// <summary>Consecutive failures, after the grace period, that make a task unhealthy, and so replace it. Default 3, 1 to 10.</summary>
    public int UnhealthyThreshold { get; init; } = 3;

    /// <summary>
    /// Time after a task starts during which failed checks do not count (passes do), like ECS's
    /// <c>healthCheckGracePeriodSeconds</c>. Default 30s, 0s to 1h.
    /// </summary>
    public TimeSpan GracePeriod { get; init; } = TimeSpan.FromSeconds(30);
}
