using System.Collections.Immutable;
using Flotilla.Core.Deployments;
using Flotilla.Core.Scheduling;
using Flotilla.Core.Spec;

namespace Flotilla.Core.Fleet;

/// <summary>What the fleet wants and has for one service.</summary>
public sealed record ServiceState
{
    /// <summary>How many deployment records to keep per service.</summary>
    public const int DeploymentsKept = 20;

    /// <summary>The service as now applied: its settings, and the task definition of <see cref="Revision"/>.</summary>
    public required ServiceSpec Spec { get; init; }

    /// <summary>The revision the service is moving to, or runs (its newest deployment's): new tasks are started with it.</summary>
    public int Revision => Deployments[^1].ToRevision;

    /// <summary>Every revision, oldest first; revision N is at index N − 1.</summary>
    public ImmutableArray<RevisionRecord> Revisions { get; init; } = [];

    /// <summary>Its deployments, oldest first (the last <see cref="DeploymentsKept"/>).</summary>
    public ImmutableArray<DeploymentRecord> Deployments { get; init; } = [];

    /// <summary>
    /// Traffic shares by revision while a canary or blue/green deployment steers it; null when every eligible task of any
    /// revision takes its share (the normal case, and rolling deployments).
    /// </summary>
    public ImmutableDictionary<int, int>? Traffic { get; init; }

    public required int Desired { get; init; }

    public LaunchBackoff Backoff { get; init; } = LaunchBackoff.None;

    /// <summary>All desired tasks are healthy and nothing is starting or stopping; the steady-state event was raised.</summary>
    public bool Steady { get; init; }

    /// <summary>The number the next task's id gets.</summary>
    public int NextTaskNumber { get; init; } = 1;

    /// <summary>Removed by an apply: scaled to zero, and forgotten once its last task has stopped.</summary>
    public bool Removing { get; init; }

    public string Name => Spec.Name;

    public DeploymentRecord? ActiveDeployment => Deployments.LastOrDefault(d => d.IsActive);

    /// <summary>The revision of the last deployment that completed: where a failed one rolls back to.</summary>
    public int? StableRevision => Deployments.LastOrDefault(d => d.Status == DeploymentStatus.Completed)?.ToRevision;

    public RevisionRecord RevisionOf(int number) => Revisions[number - 1];

    /// <summary>A new service at revision 1, with its first deployment under way.</summary>
    public static ServiceState Create(ServiceSpec spec, DateTimeOffset now, string cause) => new()
    {
        Spec = spec,
        Desired = spec.Desired,
        Revisions = [new RevisionRecord(1, spec, now, [], cause)],
        Deployments =
        [
            new DeploymentRecord { Id = 1, ToRevision = 1, Strategy = DeploymentStrategy.Rolling, StartedAt = now, Cause = cause },
        ],
    };

    /// <summary>Replaces a deployment record (matched by id), keeping the last <see cref="DeploymentsKept"/>.</summary>
    public ServiceState WithDeployment(DeploymentRecord deployment)
    {
        var index = Deployments.FindIndex(d => d.Id == deployment.Id);
        var deployments = index >= 0 ? Deployments.SetItem(index, deployment) : Deployments.Add(deployment);
        return this with { Deployments = deployments.Length > DeploymentsKept ? deployments[^DeploymentsKept..] : deployments };
    }

    /// <summary>The id the next deployment gets.</summary>
    public int NextDeploymentId => Deployments.IsEmpty ? 1 : Deployments[^1].Id + 1;
}

internal static class ImmutableArrayExtensions
{
    public static int FindIndex<T>(this ImmutableArray<T> items, Func<T, bool> predicate)
    {
        for (var i = 0; i < items.Length; i++)
        {
            if (predicate(items[i]))
            {
                return i;
            }
        }

        return -1;
    }
}
