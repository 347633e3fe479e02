using Flotilla.Autoscaling;
using Flotilla.Core;
using Flotilla.Core.Autoscaling;
using Flotilla.Core.Fleet;
using Flotilla.Scheduling;

namespace Flotilla.Api;

/// <summary><c>GET /api/v1/services/{name}/autoscaling</c>: what the autoscaler made of a service at its last evaluation, and why.</summary>
internal static class AutoscalingApi
{
    /// <summary>Maps the endpoint on <paramref name="v1"/>, the <c>/api/v1</c> group.</summary>
    public static IEndpointRouteBuilder MapAutoscalingApi(this IEndpointRouteBuilder v1)
    {
        v1.MapGet("/services/{name}/autoscaling", Get);
        return v1;
    }

    internal static IResult Get(string name, AutoscalerLoop autoscaler, FleetView fleet)
    {
        var state = fleet.Current;
        if (!state.Services.TryGetValue(name, out var service))
        {
            return Problems.NotFound($"unknown service '{name}'; services: {string.Join(", ", state.ServiceOrder)}");
        }

        if (autoscaler.Status(name) is not { } status)
        {
            return Problems.NotFound($"service {name} is not autoscaled: it keeps desired {service.Desired}; add services.{name}.autoscaling to the spec (see docs/autoscaling.md)");
        }

        return Results.Json(From(status, service, state), AutoscalingJson.Default.AutoscalingDto);
    }

    internal static AutoscalingDto From(AutoscalerStatus status, ServiceState service, FleetState fleet)
    {
        var spec = status.Spec;
        var decision = status.Decision;
        var tasks = fleet.TasksOf(service.Name).ToList();
        var policies = decision is null
            ? status.Policies.Select(p => new AutoscalingPolicyDto(p.Name, p.Kind, p.Metric?.Name, null, null, "not evaluated", null, "not evaluated yet")).ToList()
            : decision.Wishes.Select(w => new AutoscalingPolicyDto(
                w.Policy,
                w.Kind,
                w.Metric,
                w.Value is { } value ? Math.Round(value, 3) : null,
                w.Target,
                w.Wish switch
                {
                    WishKind.Count => "count",
                    WishKind.NoOpinion => "no opinion",
                    _ => "metric missing",
                },
                w.Desired,
                w.Explanation)).ToList();
        var next = decision?.NextScheduled;
        var change = decision?.State.LastChange;
        return new AutoscalingDto(
            service.Name,
            service.Desired,
            tasks.Count(t => t.State == TaskState.Running),
            tasks.Count(t => t.IsInService),
            decision?.Min ?? spec.Min,
            decision?.Max ?? spec.Max,
            Durations.Format(spec.ScaleOutCooldown),
            Durations.Format(spec.ScaleInCooldown),
            spec.MaxScaleInStep,
            Durations.Format(spec.Warmup),
            Durations.Format(spec.EvaluationInterval),
            decision?.State.LastEvaluatedAt,
            Durations.Format(Durations.CeilingSeconds(decision?.ScaleOutCooldownLeft ?? TimeSpan.Zero)),
            Durations.Format(Durations.CeilingSeconds(decision?.ScaleInCooldownLeft ?? TimeSpan.Zero)),
            next is null ? null : new ScheduledActionDto(next.Policy, next.At, next.Local, next.Sets),
            policies,
            decision?.Reason,
            change is null ? null : new ScalingChangeDto(change.At, change.From, change.To, change.Reason));
    }
}
