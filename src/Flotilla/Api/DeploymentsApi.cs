using System.Collections.Immutable;
using System.Text.Json;
using Flotilla.Core.Deployments;
using Flotilla.Core.Spec;
using Flotilla.Hosting;
using Flotilla.Scheduling;

namespace Flotilla.Api;

/// <summary>
/// Revisions and deployments: <c>POST /api/v1/apply</c> (a whole spec), <c>POST …/deployments</c> (a quick change of one
/// service), <c>POST …/rollback</c>, and the records to follow them. Every change goes through the scheduler's loop.
/// </summary>
internal static class DeploymentsApi
{
    private static readonly TimeSpan CommandTimeout = TimeSpan.FromSeconds(10);

    public static IEndpointRouteBuilder MapDeploymentsApi(this IEndpointRouteBuilder v1)
    {
        v1.MapGet("/services/{name}/revisions", (string name, FleetView fleet) =>
            fleet.Current.Services.TryGetValue(name, out var service)
                ? Results.Json(service.Revisions.Select(r => RevisionDto.From(r, service)).ToList(), DeploymentJson.Default.ListRevisionDto)
                : UnknownService(name, fleet));

        v1.MapGet("/services/{name}/deployments", (string name, FleetView fleet) =>
        {
            var state = fleet.Current;
            return state.Services.TryGetValue(name, out var service)
                ? Results.Json(service.Deployments.Reverse().Select(d => DeploymentDto.From(d, service, state)).ToList(), DeploymentJson.Default.ListDeploymentDto)
                : UnknownService(name, fleet);
        });

        v1.MapGet("/services/{name}/deployments/{id:int}", (string name, int id, FleetView fleet) =>
        {
            var state = fleet.Current;
            if (!state.Services.TryGetValue(name, out var service))
            {
                return UnknownService(name, fleet);
            }

            return service.Deployments.FirstOrDefault(d => d.Id == id) is { } deployment
                ? Results.Json(DeploymentDto.From(deployment, service, state), DeploymentJson.Default.DeploymentDto)
                : Problems.NotFound($"{name} has no deployment {id}; it keeps its last {Core.Fleet.ServiceState.DeploymentsKept}");
        });

        v1.MapPost("/services/{name}/deployments", DeployAsync);
        v1.MapPost("/services/{name}/rollback", RollbackAsync);
        v1.MapPost("/apply", ApplyAsync);
        return v1;
    }

    private static async Task<IResult> DeployAsync(string name, HttpRequest request, FleetController controller, FleetView fleet)
    {
        if (!fleet.Current.Services.TryGetValue(name, out var service))
        {
            return UnknownService(name, fleet);
        }

        var (body, error) = await ReadAsync(request, DeploymentJson.Default.DeployRequest, "{\"env\": {\"GREETING\": \"hi\"}, \"command\": [\"dotnet\", \"app.dll\"], \"unsetEnv\": [\"DEBUG\"]}");
        if (body is null)
        {
            return Problems.BadRequest(error!);
        }

        var spec = service.Spec with
        {
            Command = body.Command?.ToImmutableArray() ?? service.Spec.Command,
            Env = service.Spec.Env.SetItems(body.Env ?? new Dictionary<string, string>()).RemoveRange(body.UnsetEnv ?? []),
        };
        var current = fleet.Current.Spec;
        var problems = SpecLoader.Check(current with { Services = current.Services.Select(s => s.Name == name ? spec : s).ToImmutableArray() })
            .Where(p => p.Path.StartsWith($"services.{name}", StringComparison.Ordinal))
            .Select(p => $"{p.Path}: {p.Message}")
            .ToList();
        if (problems.Count > 0)
        {
            return Problems.BadRequest(string.Join("; ", problems));
        }

        var refused = await controller.DeployAsync(name, spec, "deploy").WaitAsync(CommandTimeout);
        return refused is null ? Latest(name, fleet, StatusCodes.Status201Created) : Problems.BadRequest(refused);
    }

    private static async Task<IResult> RollbackAsync(string name, HttpRequest request, FleetController controller, FleetView fleet)
    {
        if (!fleet.Current.Services.ContainsKey(name))
        {
            return UnknownService(name, fleet);
        }

        var (body, error) = request.ContentLength is 0 or null && !request.Headers.TransferEncoding.Any()
            ? (new RollbackRequest(null), null)
            : await ReadAsync(request, DeploymentJson.Default.RollbackRequest, "{\"toRevision\": 2}");
        if (body is null)
        {
            return Problems.BadRequest(error!);
        }

        var refused = await controller.RollbackAsync(name, body.ToRevision).WaitAsync(CommandTimeout);
        return refused is null ? Latest(name, fleet, StatusCodes.Status201Created) : Problems.BadRequest(refused);
    }

    /// <summary>
    /// Validates the spec as <c>flotilla up</c> would (every error with its line, then the machine checks), then plans it
    /// against the running fleet and, unless it is a dry run, applies it — whole, or not at all.
    /// </summary>
    private static async Task<IResult> ApplyAsync(HttpRequest request, FleetController controller, FleetView fleet, SpecDocument started)
    {
        var (body, error) = await ReadAsync(request, DeploymentJson.Default.ApplyRequest, "{\"spec\": \"<the YAML>\", \"file\": \"flotilla.yaml\", \"baseDirectory\": \"/abs/dir\", \"dryRun\": false}");
        if (body?.Spec is null)
        {
            return Problems.BadRequest(error ?? "spec is required: the spec file's text");
        }

        var baseDirectory = body.BaseDirectory ?? started.BaseDirectory;
        if (!Path.IsPathFullyQualified(baseDirectory))
        {
            return Problems.BadRequest($"baseDirectory must be an absolute path, got '{baseDirectory}'");
        }

        var loaded = SpecLoader.Load(body.Spec, body.File ?? "spec", baseDirectory);
        var errors = loaded.Document is { } document
            ? Preflight.Check(document).Select(d => d.ToString()).ToList()
            : loaded.Errors.Select(d => d.ToString()).ToList();
        if (errors.Count > 0)
        {
            return Results.Json(ApplyResultDto.Invalid(errors), DeploymentJson.Default.ApplyResultDto, statusCode: StatusCodes.Status400BadRequest);
        }

        var next = loaded.Document!.Resolved;
        if (body.DryRun)
        {
            return Results.Json(ApplyResultDto.From(SpecPlan.Between(fleet.Current, next), applied: false, []), DeploymentJson.Default.ApplyResultDto);
        }

        var (plan, refused) = await controller.ApplyAsync(next, body.File ?? "spec").WaitAsync(CommandTimeout);
        return refused is null
            ? Results.Json(ApplyResultDto.From(plan, applied: true, []), DeploymentJson.Default.ApplyResultDto)
            : Results.Json(ApplyResultDto.From(plan, applied: false, [refused]), DeploymentJson.Default.ApplyResultDto, statusCode: StatusCodes.Status409Conflict);
    }

    private static IResult Latest(string name, FleetView fleet, int status)
    {
        var state = fleet.Current;
        var service = state.Services[name];
        return Results.Json(DeploymentDto.From(service.Deployments[^1], service, state), DeploymentJson.Default.DeploymentDto, statusCode: status);
    }

    private static IResult UnknownService(string name, FleetView fleet) =>
        Problems.NotFound($"unknown service '{name}'; services: {string.Join(", ", fleet.Current.ServiceOrder)}");

    private static async Task<(T? Body, string? Error)> ReadAsync<T>(HttpRequest request, System.Text.Json.Serialization.Metadata.JsonTypeInfo<T> type, string example)
        where T : class
    {
        var shape = $"the body must be JSON like {example}";
        try
        {
            var body = await JsonSerializer.DeserializeAsync(request.Body, type, request.HttpContext.RequestAborted);
            return body is null ? (null, shape) : (body, null);
        }
        catch (JsonException e)
        {
            return (null, e.Path is { Length: > 2 } path ? $"{shape} ({path[2..]} has the wrong type)" : $"{shape} (not valid JSON)");
        }
    }
}
