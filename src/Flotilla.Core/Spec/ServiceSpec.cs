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

    /// <summary>
    /// The readiness check: a task takes traffic once it passes <c>healthyThreshold</c> checks in a row, and leaves the load
    /// balancer (without being stopped) when it fails <c>unhealthyThreshold</c> in a row.
    /// </summary>
    public HealthCheckSpec Health { get; init; } = new();

    /// <summary>
    /// The liveness check: a task that fails it <c>unhealthyThreshold</c> times in a row after its grace period is replaced
    /// (stopped reason <c>failed health checks</c>). Default: none — a task is replaced only when it exits.
    /// </summary>
    public HealthCheckSpec? Liveness { get; init; }

    /// <summary>
    /// How long a new task's share of traffic ramps up, from 10% to 100%, after it joins the load balancer (ALB's slow start).
    /// Default 0s (off); 0s to 15m.
    /// </summary>
    public TimeSpan SlowStart { get; init; } = TimeSpan.Zero;

    /// <summary>
    /// How long a task that is being stopped keeps serving its requests in flight, after it has left the load balancer and
    /// before it gets SIGTERM; it ends early once none are left. Default 30s (ALB's 300s is long for one machine); 0s to 1h.
    /// </summary>
    public TimeSpan DeregistrationDelay { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>How long a task may stay silent (no response byte) before the request is answered 504. Default 60s (ALB's idle timeout); 1s to 1h.</summary>
    public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>Sticky sessions: a client's requests go to the task a cookie names, while it is eligible. Default: off.</summary>
    public StickinessSpec? Stickiness { get; init; }

    /// <summary>Passive health: tasks that keep failing real requests are taken out for a while (Envoy's outlier detection). Default: on.</summary>
    public OutlierDetectionSpec OutlierDetection { get; init; } = new();

    /// <summary>
    /// When fewer than this percentage of a service's known tasks are healthy, the load balancer routes to all of them,
    /// healthy or not, rather than overload the few (Envoy's panic threshold). Default 50; 0 turns it off.
    /// </summary>
    public int PanicThreshold { get; init; } = 50;

    /// <summary>How a change of task definition is rolled out. Default: a rolling update with ECS's bounds and circuit breaker.</summary>
    public DeploymentSpec Deployment { get; init; } = new();

    /// <summary>What one task may use: the 100% marks of the cpu and memory scaling metrics. Default: none.</summary>
    public ResourcesSpec Resources { get; init; } = new();

    /// <summary>Autoscaling between a min and a max by policies; <see cref="Desired"/> is then the starting count. Default: none (the count is <see cref="Desired"/>).</summary>
    public AutoscalingSpec? Autoscaling { get; init; }
}

/// <summary>Sticky sessions through a cookie that names the task.</summary>
public sealed record StickinessSpec
{
    /// <summary>The cookie's name. Default <c>FLOTILLA_AFFINITY</c>.</summary>
    public string Cookie { get; init; } = "FLOTILLA_AFFINITY";

    /// <summary>How long the cookie lives (it is refreshed when rewritten). Default 1h; 1s to 7 days.</summary>
    public TimeSpan Ttl { get; init; } = TimeSpan.FromHours(1);
}

/// <summary>
/// Ejects a task that fails real requests: <see cref="Consecutive5xx"/> 5xx answers or transport errors in a row take it
/// out for <see cref="BaseEjection"/> × the number of times it has been ejected (at most <see cref="MaxEjection"/>), never more
/// than <see cref="MaxEjectionPercent"/> of the service at once. A passing active check brings it back early. Envoy's defaults.
/// </summary>
public sealed record OutlierDetectionSpec
{
    /// <summary>Default true.</summary>
    public bool Enabled { get; init; } = true;

    /// <summary>Default 5; 1 to 1000.</summary>
    public int Consecutive5xx { get; init; } = 5;

    /// <summary>Default 30s; 1s to 1h.</summary>
    public TimeSpan BaseEjection { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Default 300s; at least <see cref="BaseEjection"/>, at most 1h.</summary>
    public TimeSpan MaxEjection { get; init; } = TimeSpan.FromSeconds(300);

    /// <summary>Default 50; 0 to 100. At least one task may always be ejected.</summary>
    public int MaxEjectionPercent { get; init; } = 50;
}

/// <summary>How an active check probes a task.</summary>
public enum CheckType
{
    /// <summary>GET <see cref="HealthCheckSpec.Path"/>; 200 to 399 passes.</summary>
    Http,

    /// <summary>A TCP connection to the task's port is accepted.</summary>
    Tcp,
}

/// <summary>
/// An active check of each task: an HTTP GET (a status from 200 to 399 passes) or a TCP connect.
/// Defaults sit between ALB's (30s/5s) and Kubernetes' (10s/1s); thresholds are ALB's healthy 2 / unhealthy 3.
/// </summary>
public sealed record HealthCheckSpec
{
    /// <summary><c>http</c> (default) or <c>tcp</c>.</summary>
    public CheckType Type { get; init; } = CheckType.Http;

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
