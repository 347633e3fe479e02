using System.Collections.Concurrent;
using System.Collections.Immutable;
using Flotilla.Core.Autoscaling;
using Flotilla.Core.Deployments;
using Flotilla.Core.Fleet;
using Flotilla.Core.Metrics;
using Flotilla.Core.Spec;
using Flotilla.Scheduling;

namespace Flotilla.Autoscaling;

/// <summary>What the autoscaler last made of one service, for the API: its policies and, once evaluated, the decision.</summary>
/// <param name="Spec">The service's autoscaling block.</param>
/// <param name="Policies">Its policies, built once from the spec.</param>
/// <param name="Decision">The last evaluation's outcome; null before the first.</param>
internal sealed record AutoscalerStatus(AutoscalingSpec Spec, ImmutableArray<IScalingPolicy> Policies, AutoscalerDecision? Decision);

/// <summary>
/// The autoscaler's shell: for each service with an autoscaling block, every evaluation interval, reads the figures from
/// the <see cref="MetricStore"/> and the published fleet, asks <see cref="AutoscalerDecider"/>, and sets the count through
/// the <see cref="FleetController"/> with the decision's reason, which becomes the event. It follows the fleet's spec as
/// applied: a service that gains, changes or loses its autoscaling block (or is added or removed) is picked up within a
/// second, keeping its cooldowns across a change. Services tick independently, each on its own interval; a failed
/// evaluation is logged and the next one starts afresh from the same state.
/// </summary>
internal sealed partial class AutoscalerLoop : BackgroundService
{
    /// <summary>How long a scale may wait for the scheduler's loop; longer means it is stuck, and the next evaluation will try again.</summary>
    private static readonly TimeSpan ScaleTimeout = TimeSpan.FromSeconds(10);

    /// <summary>The loop's tick: the finest evaluation interval the spec allows.</summary>
    private static readonly TimeSpan Tick = TimeSpan.FromSeconds(1);

    private readonly ConcurrentDictionary<string, AutoscalerStatus> _status = new(StringComparer.Ordinal);
    private readonly Dictionary<string, (AutoscalerState State, DateTimeOffset Next)> _schedule = new(StringComparer.Ordinal);
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
        Follow(fleet.Current, time.GetUtcNow());
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

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(Tick, _time);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                var now = _time.GetUtcNow();
                Follow(_fleet.Current, now);
                foreach (var (service, (state, next)) in _schedule.Where(s => s.Value.Next <= now).ToList())
                {
                    var status = _status[service];
                    var after = state;
                    try
                    {
                        after = await EvaluateAsync(service, status, state, stoppingToken);
                    }
                    catch (Exception e) when (e is not OperationCanceledException and not OutOfMemoryException)
                    {
                        // The fleet runs on at its current count: a failed evaluation costs one interval, never the host.
                        LogEvaluationFailed(service, e);
                    }

                    _schedule[service] = (after, next + status.Spec.EvaluationInterval);
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Shutting down.
        }
    }

    /// <summary>
    /// Brings the services evaluated in line with <paramref name="fleet"/>'s spec: new autoscaling blocks start (first
    /// evaluation one interval on, when a window of figures exists), changed ones take their new policies and keep their
    /// state, and gone ones stop.
    /// </summary>
    private void Follow(FleetState fleet, DateTimeOffset now)
    {
        foreach (var service in fleet.OrderedServices)
        {
            if (service.Spec.Autoscaling is not { } spec || service.Removing)
            {
                continue;
            }

            if (_status.TryGetValue(service.Name, out var known) && SpecDiff.Compare(known.Spec, spec, "").Count == 0)
            {
                continue;
            }

            _status[service.Name] = new AutoscalerStatus(spec, ScalingPolicies.Create(spec), null);
            _schedule[service.Name] = _schedule.TryGetValue(service.Name, out var scheduled)
                ? scheduled with { Next = now + spec.EvaluationInterval }
                : (AutoscalerState.Initial, now + spec.EvaluationInterval);
        }

        foreach (var gone in _status.Keys.Where(s => fleet.Services.GetValueOrDefault(s) is not { Spec.Autoscaling: not null, Removing: false }).ToList())
        {
            _status.TryRemove(gone, out _);
            _schedule.Remove(gone);
        }
    }

    private async Task<AutoscalerState> EvaluateAsync(string service, AutoscalerStatus status, AutoscalerState state, CancellationToken stoppingToken)
    {
        var fleet = _fleet.Current;
        var now = _time.GetUtcNow();

        var inputs = ScalingInputReader.Read(_store, fleet, fleet.Services[service], status.Policies, now);
        var decision = AutoscalerDecider.Decide(status.Spec, status.Policies, inputs, state);
        _status[service] = status with { Decision = decision };
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
