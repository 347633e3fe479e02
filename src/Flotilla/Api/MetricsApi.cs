using System.Globalization;
using System.Text.Json;
using Flotilla.Core;
using Flotilla.Core.Metrics;
using Flotilla.Telemetry;

namespace Flotilla.Api;

/// <summary>
/// <c>/api/v1/metrics</c>: custom metrics in (<c>PUT</c>), any metric's points out (<c>GET</c>), from the
/// <see cref="MetricStore"/>. Errors are RFC 9457 problem details whose <c>detail</c> says what to fix, like the rest of
/// the API; the bearer token is checked by the middleware in front of everything under <c>/api</c>.
/// </summary>
internal static class MetricsApi
{
    /// <summary>How far back a range query reaches when it names no <c>from</c>: the per-second retention.</summary>
    private static readonly TimeSpan DefaultRange = TimeSpan.FromSeconds(MetricStore.SecondsRetained);

    /// <summary>Maps the endpoints on <paramref name="v1"/>, the <c>/api/v1</c> group.</summary>
    public static IEndpointRouteBuilder MapMetricsApi(this IEndpointRouteBuilder v1)
    {
        v1.MapPut("/metrics/{service}/{name}", PutAsync);
        v1.MapGet("/metrics/{service}", Describe);
        v1.MapGet("/metrics/{service}/{name}", Range);
        return v1;
    }

    internal static async Task<IResult> PutAsync(string service, string name, HttpRequest request, MetricStore store, MetricsFleet fleet)
    {
        if (UnknownService(service, fleet) is { } notFound)
        {
            return notFound;
        }

        if (Metric.CustomNameError(name) is { } nameError)
        {
            return Problems.BadRequest(nameError);
        }

        const string Shape = "the body must be JSON like {\"value\": 42} or {\"value\": 42, \"task\": \"worker-1\"}";
        PutMetricRequest? body;
        try
        {
            body = await JsonSerializer.DeserializeAsync(request.Body, MetricsJson.Default.PutMetricRequest, request.HttpContext.RequestAborted);
        }
        catch (JsonException e)
        {
            // System.Text.Json's own messages name .NET types; say instead where the body went wrong.
            return Problems.BadRequest(e.Path is { Length: > 2 } path ? $"{Shape} ({path[2..]} has the wrong type)" : $"{Shape} (not valid JSON)");
        }

        if (body?.Value is not { } value)
        {
            return Problems.BadRequest($"value is required; {Shape}");
        }

        if (body.Task is { Length: 0 })
        {
            return Problems.BadRequest($"task, when given, names a task of {service}; {Shape}");
        }

        // The name and the value are valid by now, so the store can only refuse for its limit on series.
        return store.PutCustom(service, name, value, body.Task) is { } refused
            ? Problems.Conflict(refused)
            : Results.NoContent();
    }

    internal static IResult Describe(string service, MetricStore store, MetricsFleet fleet)
    {
        if (UnknownService(service, fleet) is { } notFound)
        {
            return notFound;
        }

        var metrics = store.Metrics(service)
            .Select(m => store.Latest(service, m) is { } point
                ? new LatestMetricDto(m.Name, m.Unit, point.Time, point.Value)
                : new LatestMetricDto(m.Name, m.Unit, null, null))
            .ToList();
        return Results.Json(new ServiceMetricsDto(service, metrics, store.Tasks(service)), MetricsJson.Default.ServiceMetricsDto);
    }

    internal static IResult Range(
        string service,
        string name,
        string? from,
        string? to,
        string? step,
        string? task,
        MetricStore store,
        MetricsFleet fleet,
        TimeProvider time)
    {
        if (UnknownService(service, fleet) is { } notFound)
        {
            return notFound;
        }

        if (!Metric.TryParse(name, out var metric, out var nameError))
        {
            return Problems.BadRequest(nameError);
        }

        var now = time.GetUtcNow();
        if (!TryParseTime(from, "from", now, now - DefaultRange, out var start, out var error)
            || !TryParseTime(to, "to", now, now, out var end, out error))
        {
            return Problems.BadRequest(error);
        }

        TimeSpan? interval = null;
        if (step is not null)
        {
            if (!Durations.TryParse(step, out var parsed))
            {
                return Problems.BadRequest($"step must be a duration such as 1s, 10s or 5m; got '{step}'");
            }

            interval = parsed;
        }

        if (task is not null && !store.Tasks(service).Contains(task))
        {
            return Problems.NotFound($"service {service} has no metrics for task '{task}'; tasks with metrics: {List(store.Tasks(service))}");
        }

        if (metric.Kind == MetricKind.Custom && !store.Metrics(service).Contains(metric))
        {
            return Problems.NotFound($"service {service} has no metric '{name}'; its metrics: {List(store.Metrics(service).Select(m => m.Name))}");
        }

        if (!store.TryQuery(new MetricQuery(service, metric, start, end) { Step = interval, Task = task }, out var range, out var queryError))
        {
            return Problems.BadRequest(queryError);
        }

        var points = range.Points.Select(p => new MetricPointDto(p.Time, p.Value)).ToList();
        return Results.Json(
            new MetricRangeDto(service, task, metric.Name, metric.Unit, Durations.Format(range.Step), points),
            MetricsJson.Default.MetricRangeDto);
    }

    /// <summary>A time as ISO 8601, <c>now</c>, or a duration meaning that long ago (<c>5m</c>).</summary>
    private static bool TryParseTime(string? text, string parameter, DateTimeOffset now, DateTimeOffset fallback, out DateTimeOffset value, out string error)
    {
        error = "";
        if (text is null)
        {
            value = fallback;
            return true;
        }

        if (text == "now")
        {
            value = now;
            return true;
        }

        if (Durations.TryParse(text, out var ago))
        {
            value = now - ago;
            return true;
        }

        if (DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out value))
        {
            return true;
        }

        error = $"{parameter} must be a time (2026-11-22T10:00:00Z), a duration ago (5m) or now; got '{text}'";
        return false;
    }

    private static IResult? UnknownService(string service, MetricsFleet fleet)
    {
        var services = fleet.Services();
        return services.Contains(service) ? null : Problems.NotFound($"unknown service '{service}'; services: {List(services)}");
    }

    private static string List(IEnumerable<string> names) => names.Any() ? string.Join(", ", names) : "none";
}
