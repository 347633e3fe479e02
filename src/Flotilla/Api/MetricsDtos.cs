using System.Text.Json;
using System.Text.Json.Serialization;

namespace Flotilla.Api;

/// <summary>The body of <c>PUT /api/v1/metrics/{service}/{name}</c>: <c>{"value": 42}</c>, optionally with <c>"task"</c>.</summary>
internal sealed record PutMetricRequest(double? Value, string? Task);

/// <summary>A metric's newest point; time and value are null when it has none yet.</summary>
internal sealed record LatestMetricDto(string Name, string? Unit, DateTimeOffset? Time, double? Value);

/// <summary><c>GET /api/v1/metrics/{service}</c>: the service's metrics with their newest points, and its tasks with series.</summary>
internal sealed record ServiceMetricsDto(string Service, IReadOnlyList<LatestMetricDto> Metrics, IReadOnlyList<string> Tasks);

internal sealed record MetricPointDto(DateTimeOffset Time, double Value);

/// <summary><c>GET /api/v1/metrics/{service}/{name}</c>: points oldest first, <c>step</c> apart (written as a duration).</summary>
internal sealed record MetricRangeDto(string Service, string? Task, string Metric, string? Unit, string Step, IReadOnlyList<MetricPointDto> Points);

/// <summary>The metrics API's types, serialized by source generation the way the rest of the API is: camelCase, ISO 8601 times.</summary>
[JsonSourceGenerationOptions(JsonSerializerDefaults.Web, WriteIndented = true)]
[JsonSerializable(typeof(PutMetricRequest))]
[JsonSerializable(typeof(ServiceMetricsDto))]
[JsonSerializable(typeof(MetricRangeDto))]
internal sealed partial class MetricsJson : JsonSerializerContext;
