using System.Text.Json;
using System.Text.Json.Serialization;
using Flotilla.Core;
using Flotilla.Core.Events;
using Flotilla.Core.Fleet;
using Flotilla.Core.Spec;
using Flotilla.Proxy.Targets;

namespace Flotilla.Api;

/// <summary>What <c>admin.json</c> in the state directory holds: how the CLI finds and authenticates to a running Flotilla.</summary>
internal sealed record AdminInfo(string Url, string Token, int Pid, DateTimeOffset StartedAt, string Spec, Dictionary<string, string> Listeners);

internal sealed record TaskDto(
    string Id,
    string Service,
    int Revision,
    string State,
    string Health,
    int Port,
    int? Pid,
    DateTimeOffset CreatedAt,
    DateTimeOffset? StartedAt,
    DateTimeOffset? HealthyAt,
    DateTimeOffset? StoppedAt,
    string? StoppedReason,
    int? ExitCode,
    DateTimeOffset? LastHealthCheckAt,
    string? LastHealthCheckFailure,
    string? Liveness,
    int Weight)
{
    public static TaskDto From(TaskRecord t) => new(
        t.Id,
        t.Service,
        t.Revision,
        Lower(t.State),
        Lower(t.Health.State),
        t.Port,
        t.Pid,
        t.CreatedAt,
        t.StartedAt,
        t.HealthyAt,
        t.StoppedAt,
        t.StoppedReason,
        t.ExitCode,
        t.Health.LastCheckedAt,
        t.Health.LastFailure,
        t.Liveness is null ? null : Lower(t.Liveness.State),
        t.Weight);

    internal static string Lower<T>(T value) where T : struct, Enum => value.ToString().ToLowerInvariant();
}

internal sealed record HealthCheckDto(string Path, string Interval, string Timeout, int HealthyThreshold, int UnhealthyThreshold, string GracePeriod);

/// <summary>A service as the API shows it. Env values are never shown (they may hold secrets), only their names.</summary>
internal sealed record ServiceDto(
    string Name,
    int Revision,
    int Desired,
    int Running,
    int Healthy,
    string Status,
    string LoadBalancing,
    DateTimeOffset? BackoffUntil,
    IReadOnlyList<string> Command,
    IReadOnlyList<string> EnvNames,
    string StopTimeout,
    HealthCheckDto Health)
{
    public static ServiceDto From(ServiceState service, FleetState fleet, DateTimeOffset now)
    {
        var tasks = fleet.TasksOf(service.Name).ToList();
        var spec = service.Spec;
        var backingOff = service.Backoff.IsActive(now);
        return new ServiceDto(
            service.Name,
            service.Revision,
            service.Desired,
            tasks.Count(t => t.State == TaskState.Running),
            tasks.Count(t => t.IsInService),
            backingOff ? "backing off" : service.Steady ? "steady" : "converging",
            spec.LoadBalancing.Algorithm,
            backingOff ? service.Backoff.NotBefore : null,
            spec.Command,
            spec.Env.Keys.ToList(),
            Durations.Format(spec.StopTimeout),
            new HealthCheckDto(
                spec.Health.Path,
                Durations.Format(spec.Health.Interval),
                Durations.Format(spec.Health.Timeout),
                spec.Health.HealthyThreshold,
                spec.Health.UnhealthyThreshold,
                Durations.Format(spec.Health.GracePeriod)));
    }
}

internal sealed record EventDto(long Id, DateTimeOffset Time, string Reason, string Message, string? Service, string? Task, bool Warning)
{
    public static EventDto From(FleetEvent e) => new(e.Id, e.Time, e.Reason, e.Message, e.Service, e.TaskId, e.IsWarning);
}

/// <summary>A rule as the API shows it: its id, what it matches, and its action in words.</summary>
internal sealed record RuleDto(string Id, int? Priority, string Path, string? Host, string Action)
{
    public static RuleDto From(string listener, int index, RuleSpec rule) => new(
        $"{listener}/rules[{index}]",
        rule.Priority,
        rule.Path.ToString(),
        rule.Host,
        rule.Action switch
        {
            ForwardAction { Services.Length: 1 } single => $"forward to {single.Services[0].Service}",
            ForwardAction forward => "forward to " + string.Join(", ", forward.Services.Select(s => $"{s.Service} (weight {s.Weight})")),
            FixedResponseAction fixedResponse => $"answer {fixedResponse.Status}",
            RedirectAction redirect => $"redirect {redirect.Status} to {redirect.Location}",
            _ => rule.Action.GetType().Name,
        });
}

/// <summary>A service's targets as the load balancer sees them: what passive health and panic mode make of them.</summary>
internal sealed record TargetsDto(string Service, string Algorithm, bool Panic, IReadOnlyList<TargetDto> Targets)
{
    public static TargetsDto From(TargetGroup group, TimeProvider time)
    {
        var now = time.GetTimestamp();
        var eligible = group.Current.Eligible.Targets;
        return new TargetsDto(
            group.Service.Name,
            group.Policy.Name,
            group.Current.Panic,
            group.All.Select(t => new TargetDto(
                t.TaskId,
                t.Port,
                eligible.Contains(t),
                t.Ready,
                t.Draining,
                t.EjectedUntil == 0 ? null : Math.Round(Math.Max(0, t.EjectedUntil - now) / (double)time.TimestampFrequency, 1),
                t.TimesEjected,
                t.InFlight,
                t.Weight,
                Math.Round(t.EffectiveWeight(now), 3),
                double.IsNaN(t.LatencyEwmaMs(now)) ? null : Math.Round(t.LatencyEwmaMs(now), 3))).ToList());
    }
}

internal sealed record TargetDto(
    string Task,
    int Port,
    bool Eligible,
    bool Ready,
    bool Draining,
    double? EjectedForSeconds,
    int TimesEjected,
    int InFlight,
    int Weight,
    double EffectiveWeight,
    double? LatencyEwmaMs);

internal sealed record ListenerDto(string Name, string Address, IReadOnlyList<RuleDto> Rules);

internal sealed record ScaleRequest(int? Desired);

/// <summary>Every type the API and the CLI exchange, serialized by source generation: camelCase, ISO 8601 times.</summary>
[JsonSourceGenerationOptions(JsonSerializerDefaults.Web, WriteIndented = true)]
[JsonSerializable(typeof(AdminInfo))]
[JsonSerializable(typeof(TaskDto))]
[JsonSerializable(typeof(List<TaskDto>))]
[JsonSerializable(typeof(ServiceDto))]
[JsonSerializable(typeof(List<ServiceDto>))]
[JsonSerializable(typeof(EventDto))]
[JsonSerializable(typeof(List<EventDto>))]
[JsonSerializable(typeof(List<ListenerDto>))]
[JsonSerializable(typeof(TargetsDto))]
[JsonSerializable(typeof(ScaleRequest))]
internal sealed partial class FlotillaJson : JsonSerializerContext;
