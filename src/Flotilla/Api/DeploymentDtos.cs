using System.Text.Json;
using System.Text.Json.Serialization;
using Flotilla.Core.Deployments;
using Flotilla.Core.Fleet;

namespace Flotilla.Api;

internal sealed record RevisionDto(int Number, DateTimeOffset CreatedAt, string Cause, IReadOnlyList<string> Changes, bool Current)
{
    public static RevisionDto From(RevisionRecord r, ServiceState service) => new(r.Number, r.CreatedAt, r.Cause, r.Changes, r.Number == service.Revision);
}

/// <summary>A deployment with its tasks counted: what <c>flotilla rollout status</c> draws.</summary>
internal sealed record DeploymentDto(
    string Service,
    int Id,
    int? FromRevision,
    int ToRevision,
    string Strategy,
    string Status,
    DateTimeOffset StartedAt,
    DateTimeOffset? EndedAt,
    string Cause,
    string? Outcome,
    int? RollbackOf,
    bool Automatic,
    int FailedTasks,
    int FailureThreshold,
    int Desired,
    int NewRunning,
    int NewHealthy,
    int OldRunning,
    int OldHealthy,
    int Draining,
    string? Step,
    IReadOnlyDictionary<string, int>? Traffic)
{
    public static DeploymentDto From(DeploymentRecord d, ServiceState service, FleetState fleet)
    {
        var tasks = fleet.TasksOf(service.Name).ToList();
        var live = tasks.Where(t => t.IsLive).ToList();
        var steps = service.Spec.Deployment.Steps;
        return new DeploymentDto(
            service.Name,
            d.Id,
            d.FromRevision,
            d.ToRevision,
            Names.Of(d.Strategy),
            Names.Of(d.Status),
            d.StartedAt,
            d.EndedAt,
            d.Cause,
            d.Outcome,
            d.RollbackOf,
            d.Automatic,
            d.FailedTasks,
            DeploymentRecord.FailureThreshold(service.Desired),
            service.Desired,
            live.Count(t => t.Revision == d.ToRevision),
            live.Count(t => t.Revision == d.ToRevision && t.IsInService),
            live.Count(t => t.Revision != d.ToRevision),
            live.Count(t => t.Revision != d.ToRevision && t.IsInService),
            tasks.Count(t => t.State is TaskState.Draining or TaskState.Stopping),
            d.Strategy == Core.Spec.DeploymentStrategy.Canary && d.IsActive ? $"{d.Step + 1} of {steps.Length} ({steps[d.Step]}%)" : null,
            d.IsActive ? service.Traffic?.ToDictionary(kv => kv.Key.ToString(System.Globalization.CultureInfo.InvariantCulture), kv => kv.Value) : null);
    }
}

internal sealed record ServicePlanDto(string Name, string Action, IReadOnlyList<string> TaskDefinitionChanges, IReadOnlyList<string> ServiceChanges);

/// <summary>What <c>flotilla apply</c> shows: the plan, whether it was carried out, and what stopped it.</summary>
internal sealed record ApplyResultDto(IReadOnlyList<ServicePlanDto> Services, IReadOnlyList<string> ListenerChanges, IReadOnlyList<string> AccessLogChanges, IReadOnlyList<string> Refused, string Summary, bool Applied, IReadOnlyList<string> Errors)
{
    public static ApplyResultDto From(SpecPlan plan, bool applied, IReadOnlyList<string> errors) => new(
        plan.Services.Select(s => new ServicePlanDto(s.Name, Names.Of(s.Action), s.TaskDefinitionChanges, s.ServiceChanges)).ToList(),
        plan.ListenerChanges,
        plan.AccessLogChanges,
        plan.Refused,
        plan.Summary,
        applied,
        errors);

    public static ApplyResultDto Invalid(IReadOnlyList<string> errors) => new([], [], [], [], "", false, errors);
}

/// <summary><c>POST /api/v1/apply</c>: the spec's text, its file name for messages, and its directory for relative paths.</summary>
internal sealed record ApplyRequest(string? Spec, string? File, string? BaseDirectory, bool DryRun);

/// <summary><c>POST /api/v1/services/{name}/deployments</c>: a quick change of the task definition.</summary>
internal sealed record DeployRequest(IReadOnlyList<string>? Command, IReadOnlyDictionary<string, string>? Env, IReadOnlyList<string>? UnsetEnv);

internal sealed record RollbackRequest(int? ToRevision);

/// <summary>Enum values as the API writes them: snake_case, like the spec (<c>blue_green</c>, <c>in_progress</c>).</summary>
internal static class Names
{
    public static string Of<T>(T value)
        where T : struct, Enum => JsonNamingPolicy.SnakeCaseLower.ConvertName(value.ToString());
}

[JsonSourceGenerationOptions(JsonSerializerDefaults.Web, WriteIndented = true)]
[JsonSerializable(typeof(List<RevisionDto>))]
[JsonSerializable(typeof(DeploymentDto))]
[JsonSerializable(typeof(List<DeploymentDto>))]
[JsonSerializable(typeof(ApplyResultDto))]
[JsonSerializable(typeof(ApplyRequest))]
[JsonSerializable(typeof(DeployRequest))]
[JsonSerializable(typeof(RollbackRequest))]
internal sealed partial class DeploymentJson : JsonSerializerContext;
