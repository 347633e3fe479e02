using System.Collections.Immutable;

namespace Flotilla.Core.Autoscaling;

/// <summary>One task's figure for a per-task metric over the evaluation window.</summary>
/// <param name="TaskId">The task.</param>
/// <param name="Value">Its mean over the window, in the metric's unit; null when it has no point in the window.</param>
/// <param name="WarmingUp">It became healthy less than <c>warmup</c> ago: its own figure does not count yet.</param>
public readonly record struct TaskReading(string TaskId, double? Value, bool WarmingUp);

/// <summary>A metric as the policies read it at one evaluation.</summary>
public sealed record MetricReading
{
    /// <summary>The service's figure (a total, a value, a latency in ms); null when the window has none.</summary>
    public double? Service { get; init; }

    /// <summary>For per-task metrics, one reading per task in service.</summary>
    public ImmutableArray<TaskReading> Tasks { get; init; } = [];
}

/// <summary>
/// Everything the autoscaler knows at one evaluation, as plain figures: what the gatherer read from the metric store and
/// the fleet, so that the decider never touches either.
/// </summary>
/// <param name="Now">The evaluation's time.</param>
/// <param name="Desired">The service's desired count now (what a scale acts on; it includes tasks still starting).</param>
/// <param name="InService">Tasks running and healthy: the ones that take traffic and whose figures mean something.</param>
/// <param name="Metrics">Each metric the policies name, by name.</param>
/// <param name="DeploymentInProgress">A deployment is moving the service between revisions: no scale-in meanwhile (as ECS).</param>
public sealed record ScalingInputs(
    DateTimeOffset Now,
    int Desired,
    int InService,
    ImmutableDictionary<string, MetricReading> Metrics,
    bool DeploymentInProgress = false)
{
    /// <summary>The reading of <paramref name="metric"/>, empty when the gatherer had none.</summary>
    public MetricReading Reading(string metric) => Metrics.GetValueOrDefault(metric) ?? new MetricReading();
}
