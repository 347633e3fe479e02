using System.Globalization;
using System.Text.Json;
using Flotilla.Autoscaling;
using Flotilla.Core;
using Flotilla.Core.Events;
using Flotilla.Core.Fleet;
using Flotilla.Proxy;
using Flotilla.Proxy.Targets;
using Flotilla.Scheduling;

namespace Flotilla.Api;

/// <summary>
/// The REST API under <c>/api/v1</c> (bearer token required) and <c>/healthz</c> (open). It reads the published
/// <see cref="FleetView"/> and the event log, and sends changes to the scheduler; it never touches tasks or the proxy.
/// Errors are RFC 9457 problem details whose <c>detail</c> says what to fix.
/// </summary>
internal static class AdminApi
{
    /// <summary>How long a command may wait for the scheduler's loop before the API gives up with 503.</summary>
    private static readonly TimeSpan CommandTimeout = TimeSpan.FromSeconds(10);

    /// <summary>Maps the API and returns the <c>/api/v1</c> group, for the endpoints of other areas.</summary>
    public static RouteGroupBuilder MapAdminApi(this WebApplication app)
    {
        app.MapGet("/healthz", () => Results.Text("ok\n"));

        app.UseWhen(c => c.Request.Path.StartsWithSegments("/api"), api => api.UseMiddleware<BearerTokenMiddleware>());
        var v1 = app.MapGroup("/api/v1");

        v1.MapGet("/services", (FleetView fleet, TimeProvider time) =>
        {
            var state = fleet.Current;
            var now = time.GetUtcNow();
            return Results.Ok(state.OrderedServices.Select(s => ServiceDto.From(s, state, now)).ToList());
        });

        v1.MapGet("/services/{name}", (string name, FleetView fleet, TimeProvider time) =>
        {
            var state = fleet.Current;
            return state.Services.TryGetValue(name, out var service)
                ? Results.Ok(ServiceDto.From(service, state, time.GetUtcNow()))
                : NotFound($"unknown service '{name}'; services: {string.Join(", ", state.ServiceOrder)}");
        });

        v1.MapPost("/services/{name}/scale", async (string name, HttpRequest request, FleetController controller, FleetView fleet, AutoscalerLoop autoscaler, TimeProvider time) =>
        {
            if (!fleet.Current.Services.ContainsKey(name))
            {
                return NotFound($"unknown service '{name}'; services: {string.Join(", ", fleet.Current.ServiceOrder)}");
            }

            var (desired, bodyError) = await ReadNumberAsync(request, "desired", 3);
            if (bodyError is not null)
            {
                return BadRequest(bodyError);
            }

            if (autoscaler.RefuseManualScale(name, desired) is { } refused)
            {
                return Problems.Conflict(refused);
            }

            var error = await controller.ScaleAsync(name, desired).WaitAsync(CommandTimeout);
            if (error is not null)
            {
                return BadRequest(error);
            }

            var state = fleet.Current;
            return Results.Ok(ServiceDto.From(state.Services[name], state, time.GetUtcNow()));
        });

        v1.MapGet("/tasks", (string? service, string? state, FleetView fleet) =>
        {
            var fleetState = fleet.Current;
            if (service is not null && !fleetState.Services.ContainsKey(service))
            {
                return NotFound($"unknown service '{service}'");
            }

            Func<TaskRecord, bool>? stateFilter = state switch
            {
                null or "all" => _ => true,
                "live" => t => t.IsLive || t.State == TaskState.Stopping,
                _ when Enum.TryParse<TaskState>(state, ignoreCase: true, out var s) => t => t.State == s,
                _ => null,
            };
            if (stateFilter is null)
            {
                return BadRequest($"state must be one of all, live, pending, running, stopping, stopped; got '{state}'");
            }

            return Results.Ok(fleetState.Tasks.Values
                .Where(t => service is null || t.Service == service)
                .Where(stateFilter)
                .OrderBy(t => t.Sequence)
                .Select(TaskDto.From)
                .ToList());
        });

        v1.MapGet("/tasks/{id}", (string id, FleetView fleet) =>
            fleet.Current.Tasks.TryGetValue(id, out var task) ? Results.Ok(TaskDto.From(task)) : NotFound($"unknown task '{id}'"));

        v1.MapPost("/tasks/{id}/stop", async (string id, FleetController controller, FleetView fleet) =>
        {
            if (!fleet.Current.Tasks.ContainsKey(id))
            {
                return NotFound($"unknown task '{id}'");
            }

            var error = await controller.StopTaskAsync(id).WaitAsync(CommandTimeout);
            return error is null
                ? Results.Ok(TaskDto.From(fleet.Current.Tasks[id]))
                : Problems.Conflict(error);
        });

        v1.MapGet("/events", (string? since, string? service, int? limit, EventLog events, TimeProvider time) =>
        {
            var max = limit ?? 1000;
            if (max is < 1 or > 10_000)
            {
                return BadRequest($"limit must be between 1 and 10000, got {max}");
            }

            IReadOnlyList<FleetEvent> selected;
            if (since is null)
            {
                selected = events.After(0, max);
            }
            else if (long.TryParse(since, NumberStyles.None, CultureInfo.InvariantCulture, out var afterId))
            {
                selected = events.After(afterId, max);
            }
            else if (Durations.TryParse(since, out var ago))
            {
                selected = events.Since(time.GetUtcNow() - ago, max);
            }
            else if (DateTimeOffset.TryParse(since, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var at))
            {
                selected = events.Since(at, max);
            }
            else
            {
                return BadRequest($"since must be an event id (42), a duration (5m) or a time (2026-11-22T10:00:00Z), got '{since}'");
            }

            return Results.Ok(selected.Where(e => service is null || e.Service == service).Select(EventDto.From).ToList());
        });

        v1.MapGet("/listeners", (ListenerDirectory listeners) => Results.Ok(listeners.All
            .Select(l => new ListenerDto(l.Name, l.Address, l.Spec.Rules.Select((r, i) => RuleDto.From(l.Name, i, r)).ToList()))
            .ToList()));

        v1.MapGet("/services/{name}/targets", (string name, TargetGroups groups) =>
            groups.ByService.TryGetValue(name, out var group)
                ? Results.Ok(TargetsDto.From(group, TimeProvider.System))
                : NotFound($"unknown service '{name}'"));

        MapWeight(v1);
        return v1;
    }

    private static void MapWeight(RouteGroupBuilder v1)
    {
        v1.MapPost("/tasks/{id}/weight", async (string id, HttpRequest request, FleetController controller, FleetView fleet) =>
        {
            if (!fleet.Current.Tasks.ContainsKey(id))
            {
                return NotFound($"unknown task '{id}'");
            }

            var (weight, bodyError) = await ReadNumberAsync(request, "weight", 5);
            if (bodyError is not null)
            {
                return BadRequest(bodyError);
            }

            var error = await controller.SetWeightAsync(id, weight).WaitAsync(CommandTimeout);
            return error is null ? Results.Ok(TaskDto.From(fleet.Current.Tasks[id])) : BadRequest(error);
        });
    }

    /// <summary>Reads <c>{"NAME": N}</c>, with an error that shows the expected shape when the body is anything else.</summary>
    private static async Task<(int Value, string? Error)> ReadNumberAsync(HttpRequest request, string name, int example)
    {
        var shape = $"the body must be JSON like {{\"{name}\": {example}}}";
        try
        {
            using var body = await JsonDocument.ParseAsync(request.Body, cancellationToken: request.HttpContext.RequestAborted);
            if (body.RootElement.ValueKind != JsonValueKind.Object || !body.RootElement.TryGetProperty(name, out var value))
            {
                return (0, $"{name} is required; {shape}");
            }

            return value.ValueKind == JsonValueKind.Number && value.TryGetInt32(out var number) ? (number, null) : (0, $"{shape} ({name} must be a whole number)");
        }
        catch (JsonException)
        {
            return (0, $"{shape} (not valid JSON)");
        }
    }

    private static IResult BadRequest(string detail) => Problems.BadRequest(detail);

    private static IResult NotFound(string detail) => Problems.NotFound(detail);
}
