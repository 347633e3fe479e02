using Flotilla.Core.Health;

namespace Flotilla.Core.Fleet;

/// <summary>Where a task is in its life. Only <see cref="Running"/> tasks can take traffic, and only once healthy.</summary>
public enum TaskState
{
    /// <summary>Decided and being launched; has a port, no process yet.</summary>
    Pending,

    /// <summary>Its process is alive.</summary>
    Running,

    /// <summary>
    /// Asked to stop: out of the load balancer for new requests, still serving those in flight until none are left or the
    /// service's deregistration delay has passed.
    /// </summary>
    Draining,

    /// <summary>SIGTERM sent; SIGKILL after the service's stopTimeout.</summary>
    Stopping,

    /// <summary>Its process is gone; <see cref="TaskRecord.StoppedReason"/> says why.</summary>
    Stopped,
}

/// <summary>One replica of one revision of a service. Immutable: every change makes a new record.</summary>
public sealed record TaskRecord
{
    /// <summary><c>{service}-{n}</c>, n counting up from 1 for each service.</summary>
    public required string Id { get; init; }

    public required string Service { get; init; }

    public required int Revision { get; init; }

    /// <summary>Order of creation across the whole fleet; newer tasks have larger numbers.</summary>
    public required long Sequence { get; init; }

    public required int Port { get; init; }

    public TaskState State { get; init; } = TaskState.Pending;

    /// <summary>The readiness check's view: only a healthy task takes traffic.</summary>
    public HealthStatus Health { get; init; } = HealthStatus.Initial;

    /// <summary>The liveness check's view, when the service has one: an unhealthy task is replaced.</summary>
    public HealthStatus? Liveness { get; init; }

    /// <summary>Its relative share of traffic under weighted algorithms, 1 to 256. Default 1; set through the API.</summary>
    public int Weight { get; init; } = 1;

    public int? Pid { get; init; }

    public required DateTimeOffset CreatedAt { get; init; }

    public DateTimeOffset? StartedAt { get; init; }

    /// <summary>When it first became healthy; null while it never has.</summary>
    public DateTimeOffset? HealthyAt { get; init; }

    public DateTimeOffset? StoppedAt { get; init; }

    /// <summary>Why it stopped or is stopping, in words (<see cref="StopReasons"/>).</summary>
    public string? StoppedReason { get; init; }

    public int? ExitCode { get; init; }

    /// <summary>
    /// It ended by failing — an exit nobody asked for, a failed start, a failed liveness check, never healthy in time —
    /// not because Flotilla stopped it: what a deployment's circuit breaker counts.
    /// </summary>
    public bool Failed { get; init; }

    /// <summary>Counts toward the service's desired count: not draining, stopping or stopped.</summary>
    public bool IsLive => State is TaskState.Pending or TaskState.Running;

    /// <summary>In the load balancer's target group.</summary>
    public bool IsInService => State == TaskState.Running && Health.State == HealthState.Healthy;
}

/// <summary>The stopped reasons a task can have, worded the way ECS words them.</summary>
public static class StopReasons
{
    /// <summary>The liveness check failed; readiness failures only take a task out of the load balancer.</summary>
    public const string FailedHealthChecks = "failed health checks";
    public const string ScaleIn = "stopped by scale-in";
    public const string User = "stopped by user";
    public const string Shutdown = "stopped because Flotilla is shutting down";
    public const string NeverHealthy = "failed to become healthy within its grace period";

    public static string ReplacedBy(int deployment) => $"replaced by deployment {deployment}";

    /// <summary>Shells' convention, which .NET follows: an exit code above 128 means killed by signal (code - 128).</summary>
    public static string FromExitCode(int exitCode) => exitCode switch
    {
        > 128 and < 128 + 65 => $"killed by signal {exitCode - 128}",
        126 => "exited with code 126 (command not executable)",
        127 => "exited with code 127 (command not found)",
        _ => $"exited with code {exitCode}",
    };

    public static string FailedToStart(string error) => $"failed to start: {error}";
}
