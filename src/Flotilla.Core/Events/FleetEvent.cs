namespace Flotilla.Core.Events;

/// <summary>
/// An append-only, human-readable record of something the fleet did or saw:
/// "service shop has reached a steady state", "task shop-7 failed health checks".
/// </summary>
/// <param name="Time">When it happened.</param>
/// <param name="Reason">A short, stable, machine-friendly word for the kind of event (<see cref="EventReasons"/>).</param>
/// <param name="Message">The sentence a person reads.</param>
/// <param name="Service">The service it concerns, if any.</param>
/// <param name="TaskId">The task it concerns, if any.</param>
public sealed record FleetEvent(DateTimeOffset Time, string Reason, string Message, string? Service = null, string? TaskId = null)
{
    /// <summary>Position in the event log, from 1; assigned when appended.</summary>
    public long Id { get; init; }

    /// <summary>Something a person on call should look at (a task that died or failed checks, a service backing off).</summary>
    public bool IsWarning => EventReasons.Warnings.Contains(Reason);
}

/// <summary>The kinds of event, as in Kubernetes' event reasons.</summary>
public static class EventReasons
{
    public const string TaskStarted = "TaskStarted";
    public const string TaskHealthy = "TaskHealthy";
    public const string TaskUnhealthy = "TaskUnhealthy";
    public const string TaskNotReady = "TaskNotReady";
    public const string TaskDraining = "TaskDraining";
    public const string TaskWeight = "TaskWeight";
    public const string TargetEjected = "TargetEjected";
    public const string TargetReturned = "TargetReturned";
    public const string PanicMode = "PanicMode";
    public const string PanicModeEnded = "PanicModeEnded";
    public const string TaskStopping = "TaskStopping";
    public const string TaskStopped = "TaskStopped";
    public const string TaskExited = "TaskExited";
    public const string TaskFailedToStart = "TaskFailedToStart";
    public const string BackingOff = "BackingOff";
    public const string SteadyState = "SteadyState";
    public const string Scaled = "Scaled";
    public const string Revision = "Revision";
    public const string Applied = "Applied";
    public const string DeploymentStarted = "DeploymentStarted";
    public const string DeploymentProgress = "DeploymentProgress";
    public const string DeploymentCompleted = "DeploymentCompleted";
    public const string DeploymentFailed = "DeploymentFailed";

    internal static readonly HashSet<string> Warnings = [TaskUnhealthy, TaskNotReady, TaskExited, TaskFailedToStart, BackingOff, TargetEjected, PanicMode, DeploymentFailed];
}
