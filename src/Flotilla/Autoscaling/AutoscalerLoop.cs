using System.Collections.Concurrent;
using System.Collections.Immutable;
using Flotilla.Core.Autoscaling;
using Flotilla.Core.Metrics;
using Flotilla.Core.Spec;
using Flotilla.Scheduling;

namespace Flotilla.Autoscaling;

/// <summary>What the autoscaler last made of one service, for the API: its policies and, once evaluated, the decision.</summary>
/// <param name="Spec">The service's autoscaling block.</param>
/// <param name="Policies">Its policies, built once from the spec.</param>
/// <param name="Decision">The last evaluation's outcome; null before the first.</param>
/// <param name="EvaluatedAt">When it was made.</param>
internal sealed record AutoscalerStatus(AutoscalingSpec Spec, ImmutableArray<IScalingPolicy> Policies, AutoscalerDecision? Decision, DateTimeOffset? EvaluatedAt);

/// <summary>
/// The autoscaler's shell: for each service with an autoscaling block, every evaluation interval, reads the figures from
/// the <see cref="MetricStore"/> and the published fleet, asks <see cref="AutoscalerDecider"/>, and sets the count through
/// the <see cref="FleetController"/> with the decision's reason, which becomes the event. Services tick independently,
/// each on its own interval; a failed evaluation is logged and the next one starts afresh from the same state.
/// </summary>
internal sealed partial class AutoscalerLoop : BackgroundService
{
    /// <summary>How long a scale may wait for the scheduler's loop; longer means it is stuck, and the next evaluation will try again.</summary>
    private static readonly TimeSpan ScaleTimeout = TimeSpan.FromSeconds(10);

    private readonly ConcurrentDictionary<string, AutoscalerStatus> _status = new(StringComparer.Ordinal);
    private readonly MetricStore _store;
    private readonly FleetView _fleet;
    private readonly FleetController _controller;
    private readonly TimeProvider _time;
    private readonly ILogger<AutoscalerLoop> _logger;

    public AutoscalerLoop(MetricStore store, FleetView fleet, FleetController controller, TimeProvider time, ILogger<AutoscalerLoop> logger)
    {
        _store = store;
        _fleet = fleet;
        _controller = controller;
        _time = time;
        _logger = logger;
        foreach (var service in fleet.Current.OrderedServices)
        {
            if (service.Spec.Autoscaling is { } spec)
            {
                _status[service.Name] = new AutoscalerStatus(spec, ScalingPolicies.Create(spec), null, null);
            }
        }
    }

    /// <summary>The service's autoscaling as last evaluated; null when it has no autoscaling block.</summary>
    public AutoscalerStatus? Status(string service) => _status.GetValueOrDefault(service);

    /// <summary>
    /// Why a count set by hand is refused, or null. As on AWS, a hand may set any count within the min and max in force
    /// (the autoscaler adjusts from there); outside them, the autoscaler would undo it at its next evaluation, so the
    /// request is refused instead, naming the bounds and who set them.
    /// </summary>
    public string? RefuseManualScale(string service, int desired)
    {
        if (Status(service) is not { } status)
        {
            return null;
        }

        var (min, max) = status.Decision is { } decision ? (decision.Min, decision.Max) : (status.Spec.Min, status.Spec.Max);
        return desired >= min && desired <= max
            ? null
            : $"service {service} is autoscaled between min {min} and max {max}{(min != status.Spec.Min || max != status.Spec.Max ? " (set by a scheduled action)" : "")}; "
                + $"ask for a count in that range, or change services.{service}.autoscaling in the spec";
    }

    protected override Task ExecuteAsync(CancellationToken stoppingToken) =>
        Task.WhenAll(_status.Select(s => RunAsync(s.Key, s.Value, stoppingToken)));

    private async Task RunAsync(string service, AutoscalerStatus status, CancellationToken stoppingToken)
    {
        var state = AutoscalerState.Initial;
        using var timer = new PeriodicTimer(status.Spec.EvaluationInterval, _time);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                try
                {
                    state = await EvaluateAsync(service, status, state, stoppingToken);
                }
                catch (Exception e) when (e is not OperationCanceledException and not OutOfMemoryException)
                {
                    // The fleet runs on at its current count: a failed evaluation costs one interval, never the host.
                    LogEvaluationFailed(service, e);
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Shutting down.
        }
    }

    private async Task<AutoscalerState> EvaluateAsync(string service, AutoscalerStatus status, AutoscalerState state, CancellationToken stoppingToken)
    {
        var fleet = _fleet.Current;
        var now = _time.GetUtcNow();

        // The deployments controller will say when a deployment is moving this service between revisions (no scale-in
        // meanwhile, as ECS); until it exists, none ever is.
        const bool DeploymentInProgress = false;
        var inputs = ScalingInputReader.Read(_store, fleet, fleet.Services[service], status.Policies, now, DeploymentInProgress);
        var decision = AutoscalerDecider.Decide(status.Spec, status.Policies, inputs, state);
        _status[service] = status with { Decision = decision, EvaluatedAt = now };
        if (decision.NewDesired is not { } desired)
        {
            LogHolding(service, decision.Reason);
            return decision.State;
        }

        if (await _controller.ScaleAsync(service, desired, decision.Reason).WaitAsync(ScaleTimeout, _time, stoppingToken) is { } error)
        {
            LogScaleRefused(service, desired, error);
            return state;
        }

        return decision.State;
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "autoscaler: {Service} {Reason}")]
    private partial void LogHolding(string service, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "autoscaler: setting {Service} to {Desired} was refused: {Error}")]
    private partial void LogScaleRefused(string service, int desired, string error);

    [LoggerMessage(Level = LogLevel.Error, Message = "autoscaler: evaluating {Service} failed; its count stays as it is until the next evaluation")]
    private partial void LogEvaluationFailed(string service, Exception exception);
}
