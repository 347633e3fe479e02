using System.Collections.Immutable;
using Flotilla.Core.Spec;

namespace Flotilla.Core.Deployments;

/// <summary>An immutable version of a service's task definition.</summary>
/// <param name="Number">1, 2, 3… per service.</param>
/// <param name="Spec">The service as it was when this revision was made; its task-definition fields are the revision.</param>
/// <param name="CreatedAt">When.</param>
/// <param name="Changes">What changed from the revision before, in the spec's words (env values never shown).</param>
/// <param name="Cause">What made it: <c>spec</c>, <c>apply</c>, <c>deploy</c>.</param>
public sealed record RevisionRecord(int Number, ServiceSpec Spec, DateTimeOffset CreatedAt, ImmutableArray<string> Changes, string Cause);

/// <summary>Where a deployment is.</summary>
public enum DeploymentStatus
{
    InProgress,

    /// <summary>Every desired task runs the new revision, healthy, and the old ones are gone.</summary>
    Completed,

    /// <summary>The circuit breaker or the canary analysis stopped it, and there was no rollback.</summary>
    Failed,

    /// <summary>It failed, or a user asked, and the previous revision was deployed again.</summary>
    RolledBack,

    /// <summary>A newer deployment of the service replaced it before it finished.</summary>
    Superseded,
}

/// <summary>The controlled move of a service to a revision, with its progress and outcome.</summary>
public sealed record DeploymentRecord
{
    /// <summary>1, 2, 3… per service; the first is the service's start.</summary>
    public required int Id { get; init; }

    public required int ToRevision { get; init; }

    /// <summary>The revision the service was running or moving to when this one began; null for a service's first deployment.</summary>
    public int? FromRevision { get; init; }

    /// <summary>
    /// The revision whose deployment last completed when this one began: what a canary is judged against, what keeps
    /// serving beside it, and where a failure rolls back to. Null until a deployment of the service has completed.
    /// </summary>
    public int? StableRevision { get; init; }

    public required DeploymentStrategy Strategy { get; init; }

    public DeploymentStatus Status { get; init; } = DeploymentStatus.InProgress;

    public required DateTimeOffset StartedAt { get; init; }

    public DateTimeOffset? EndedAt { get; init; }

    /// <summary>Why it began (<c>apply</c>, <c>deploy</c>, <c>rollback of deployment 3</c>) and, once over, why it ended.</summary>
    public required string Cause { get; init; }

    public string? Outcome { get; init; }

    /// <summary>The deployment this one rolls back, if it is a rollback.</summary>
    public int? RollbackOf { get; init; }

    /// <summary>A rollback Flotilla began itself when <see cref="RollbackOf"/> failed, not one a user asked for.</summary>
    public bool Automatic { get; init; }

    /// <summary>New-revision tasks that failed to become healthy (exited, failed checks, never passed in time).</summary>
    public int FailedTasks => CountedFailures.Count;

    /// <summary>The tasks already counted in <see cref="FailedTasks"/>.</summary>
    public ImmutableHashSet<string> CountedFailures { get; init; } = [];

    /// <summary>Canary: the index of the current step in <see cref="DeploymentSpec.Steps"/>.</summary>
    public int Step { get; init; }

    /// <summary>Canary: when traffic moved to the current step (its window starts); null while its tasks are starting.</summary>
    public DateTimeOffset? StepStartedAt { get; init; }

    /// <summary>Blue/green: when all traffic moved to the new set; its bake time counts from here.</summary>
    public DateTimeOffset? SwitchedAt { get; init; }

    public bool IsActive => Status == DeploymentStatus.InProgress;

    /// <summary>ECS's circuit-breaker threshold: failures that fail the deployment, clamp(⌈desired / 2⌉, 3, 200).</summary>
    public static int FailureThreshold(int desired) => Math.Clamp((desired + 1) / 2, 3, 200);
}
