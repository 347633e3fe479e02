using System.Text.Json;
using System.Text.Json.Serialization;

namespace Flotilla.Api;

/// <summary>One policy's wish at the last evaluation.</summary>
/// <param name="Name">The policy's name.</param>
/// <param name="Kind"><c>targetTracking</c>, <c>step</c> or <c>scheduled</c>.</param>
/// <param name="Metric">The metric it reads, if any.</param>
/// <param name="Value">The metric's figure at the last evaluation (per target where shared among tasks).</param>
/// <param name="Target">Its target, or a step policy's upper threshold.</param>
/// <param name="Wish"><c>count</c>, <c>no opinion</c>, <c>metric missing</c>, or <c>not evaluated</c> before the first evaluation.</param>
/// <param name="Desired">The count it wants, if any.</param>
/// <param name="Explanation">Why, with figures.</param>
internal sealed record AutoscalingPolicyDto(string Name, string Kind, string? Metric, double? Value, double? Target, string Wish, int? Desired, string Explanation);

/// <summary>The next scheduled action: its policy, when (UTC and local to its zone) and what it sets.</summary>
internal sealed record ScheduledActionDto(string Policy, DateTimeOffset At, string Local, string Sets);

/// <summary>The autoscaler's last change of the count.</summary>
internal sealed record ScalingChangeDto(DateTimeOffset At, int From, int To, string Reason);

/// <summary>
/// <c>GET /api/v1/services/{name}/autoscaling</c>: the counts, the bounds in force, the rules, each policy's wish, the
/// cooldowns left, the next scheduled action and the last decision — what a person needs to know why the count is what it is.
/// </summary>
internal sealed record AutoscalingDto(
    string Service,
    int Desired,
    int Running,
    int Healthy,
    int Min,
    int Max,
    string ScaleOutCooldown,
    string ScaleInCooldown,
    int MaxScaleInStep,
    string Warmup,
    string EvaluationInterval,
    DateTimeOffset? EvaluatedAt,
    string ScaleOutCooldownLeft,
    string ScaleInCooldownLeft,
    ScheduledActionDto? NextScheduledAction,
    IReadOnlyList<AutoscalingPolicyDto> Policies,
    string? Decision,
    ScalingChangeDto? LastChange);

/// <summary>The autoscaling API's types, serialized by source generation like the rest of the API: camelCase, ISO 8601 times.</summary>
[JsonSourceGenerationOptions(JsonSerializerDefaults.Web, WriteIndented = true)]
[JsonSerializable(typeof(AutoscalingDto))]
internal sealed partial class AutoscalingJson : JsonSerializerContext;
