using System.Collections.Immutable;
using Flotilla.Core;
using Flotilla.Core.Events;
using Flotilla.Core.Fleet;
using Flotilla.Core.Spec;
using Flotilla.Proxy.LoadBalancing;

namespace Flotilla.Proxy.Targets;

/// <summary>
/// One service's targets, its load-balancing policy, and the data plane's own judgement of them: passive health
/// (outlier ejection), panic mode and draining.
/// </summary>
/// <remarks>
/// A target exists from the moment its task first passes its readiness check until its task stops; a task that never
/// passed gets no traffic, not even in panic. Requests read only an immutable <see cref="Snapshot"/> of the eligible
/// targets, so the hot path takes no lock; every change (control plane, ejection, drain) rebuilds the snapshot under
/// <see cref="_lock"/>.
/// </remarks>
internal sealed class TargetGroup
{
    private readonly TimeProvider _time;
    private readonly EventLog _events;
    private readonly Action<string>? _onEjected;
    private readonly Lock _lock = new();
    private readonly List<Target> _targets = [];
    private readonly Dictionary<string, DateTimeOffset?> _lastChecks = new(StringComparer.Ordinal);
    private readonly Random _random;
    private volatile Snapshot _snapshot = new(TargetSet.Empty, Panic: false, RecheckAt: long.MaxValue, Splits: []);
    private ImmutableDictionary<int, int>? _traffic;

    /// <param name="service">The service's settings.</param>
    /// <param name="time">The clock.</param>
    /// <param name="random">The source of randomness (policies, traffic splits).</param>
    /// <param name="events">Where ejections and panic mode are reported.</param>
    /// <param name="onEjected">Called with the service's name at each ejection (a metric).</param>
    /// <param name="carried">Targets of the group this one replaces (its settings changed): their counters live on.</param>
    public TargetGroup(ServiceSpec service, TimeProvider time, Random random, EventLog events, Action<string>? onEjected = null, IEnumerable<Target>? carried = null)
    {
        Service = service;
        _time = time;
        _random = random;
        _events = events;
        _onEjected = onEjected;
        Policy = LoadBalancingPolicies.Create(service.LoadBalancing, random);
        RetryAfter = Math.Max(1, (int)Math.Ceiling(service.Health.Interval.TotalSeconds)).ToString(System.Globalization.CultureInfo.InvariantCulture);
        _targets.AddRange(carried ?? []);
    }

    public ServiceSpec Service { get; }

    public ILoadBalancingPolicy Policy { get; }

    /// <summary>Retry-After for a 503: the health-check interval, the soonest a task could come back.</summary>
    public string RetryAfter { get; }

    /// <summary>The body of the 503 a request gets when the service has no eligible target, on either request path.</summary>
    public static string NoTargetMessage(string service) => $"no healthy targets for service {service}\n";

    /// <summary>What requests may use now.</summary>
    public Snapshot Current => _snapshot;

    /// <summary>Every target, eligible or not, for metrics and the API.</summary>
    public IReadOnlyList<Target> All
    {
        get
        {
            lock (_lock)
            {
                return [.. _targets];
            }
        }
    }

    /// <summary>The target for this request, or null when the service has none to offer.</summary>
    public Target? Pick(IRequestFields request)
    {
        var now = _time.GetTimestamp();
        var snapshot = _snapshot;
        if (now >= snapshot.RecheckAt)
        {
            snapshot = Rebuild();
        }

        if (snapshot.Eligible.Count == 0)
        {
            return null;
        }

        return Policy.Pick(request, snapshot.Splits.IsEmpty ? snapshot.Eligible : Split(snapshot.Splits), now);
    }

    /// <summary>A revision's targets, chosen by the traffic shares of a canary or blue/green deployment.</summary>
    private TargetSet Split(ImmutableArray<(TargetSet Targets, int CumulativeWeight)> splits)
    {
        var ticket = _random.Next(splits[^1].CumulativeWeight);
        foreach (var (targets, cumulative) in splits)
        {
            if (ticket < cumulative)
            {
                return targets;
            }
        }

        return splits[^1].Targets;
    }

    /// <summary>The eligible target of a task, for sticky sessions; null when it is not eligible now.</summary>
    public Target? FindEligible(string taskId)
    {
        foreach (var target in _snapshot.Eligible.Targets)
        {
            if (target.TaskId == taskId)
            {
                return target;
            }
        }

        return null;
    }

    /// <summary>Brings the targets in line with the service's tasks, and its traffic shares, as the control plane sees them.</summary>
    public void Update(IEnumerable<TaskRecord> tasks, ImmutableDictionary<int, int>? traffic = null)
    {
        lock (_lock)
        {
            _traffic = traffic;
            var seen = new HashSet<string>(StringComparer.Ordinal);
            foreach (var task in tasks.OrderBy(t => t.Sequence))
            {
                var target = _targets.Find(t => t.TaskId == task.Id);
                var alive = task.State is TaskState.Running or TaskState.Draining;
                if (target is null && task.IsInService)
                {
                    target = new Target(task.Id, task.Service, task.Revision, task.Port, _time.GetTimestamp(), Service.SlowStart, _time.TimestampFrequency);
                    _targets.Add(target);
                }

                if (target is null || !alive)
                {
                    continue;
                }

                seen.Add(task.Id);
                target.Ready = task.IsInService;
                target.Draining |= task.State == TaskState.Draining;
                target.Weight = task.Weight;
                _lastChecks[task.Id] = task.Health.LastCheckedAt;

                // Envoy's rule: an active check that passes after the ejection brings the target back at once.
                if (target.EjectedUntil != 0 && task.Health.ConsecutivePasses > 0 && task.Health.LastCheckedAt > target.EjectedAfterCheck)
                {
                    Return(target, "passed an active health check");
                }
            }

            _targets.RemoveAll(t => !seen.Contains(t.TaskId));
            foreach (var id in _lastChecks.Keys.Where(id => !seen.Contains(id)).ToList())
            {
                _lastChecks.Remove(id);
            }

            Rebuild();
        }
    }

    /// <summary>
    /// Counts one response of a target for passive health (Envoy's consecutive-5xx outlier detection): 5xx answers and
    /// transport errors, which the forwarder also turns into 5xx, count as failures.
    /// </summary>
    public void ReportOutcome(Target target, int statusCode)
    {
        var detection = Service.OutlierDetection;
        if (detection.Enabled && target.RecordOutcome(statusCode >= 500) == detection.Consecutive5xx)
        {
            TryEject(target);
        }
    }

    /// <summary>Takes a task's target out for new requests and waits for its requests in flight, at most <paramref name="delay"/>.</summary>
    /// <returns>The requests still in flight when it stopped waiting.</returns>
    public async Task<int> DrainAsync(string taskId, TimeSpan delay, CancellationToken cancellationToken)
    {
        Target? target;
        lock (_lock)
        {
            target = _targets.Find(t => t.TaskId == taskId);
            if (target is null)
            {
                return 0;
            }

            target.Draining = true;
            Rebuild();
        }

        try
        {
            await target.WhenIdleAsync().WaitAsync(delay, _time, cancellationToken);
            return 0;
        }
        catch (TimeoutException)
        {
            return target.InFlight;
        }
    }

    private void TryEject(Target target)
    {
        var detection = Service.OutlierDetection;
        lock (_lock)
        {
            var now = _time.GetTimestamp();
            if (target.EjectedUntil != 0 || !_targets.Contains(target))
            {
                return;
            }

            // Never more than maxEjectionPercent of the service out at once, but always at least one may go.
            var candidates = _targets.Count(t => !t.Draining);
            var allowed = Math.Max(1, candidates * detection.MaxEjectionPercent / 100);
            if (_targets.Count(t => t.EjectedUntil != 0) >= allowed)
            {
                target.ResetFailures();
                return;
            }

            // The multiplier forgets once a target has stayed in for a full max-ejection time.
            if (target.TimesEjected > 0 && now - target.ReturnedAt > Ticks(detection.MaxEjection))
            {
                target.TimesEjected = 0;
            }

            target.TimesEjected++;
            var duration = TimeSpan.FromTicks(Math.Min(detection.BaseEjection.Ticks * target.TimesEjected, detection.MaxEjection.Ticks));
            target.EjectedUntil = now + Ticks(duration);
            target.EjectedAfterCheck = _lastChecks.GetValueOrDefault(target.TaskId);
            target.ResetFailures();
            _events.Append(new FleetEvent(
                _time.GetUtcNow(),
                EventReasons.TargetEjected,
                $"task {target.TaskId} ejected from the load balancer for {Durations.Format(duration)}: {detection.Consecutive5xx} failed requests in a row (5xx or transport errors); ejection {target.TimesEjected}",
                target.Service,
                target.TaskId));
            _onEjected?.Invoke(target.Service);
            Rebuild();
        }
    }

    /// <summary>Ends an ejection. Called under the lock.</summary>
    private void Return(Target target, string why)
    {
        target.EjectedUntil = 0;
        target.ReturnedAt = _time.GetTimestamp();
        _events.Append(new FleetEvent(_time.GetUtcNow(), EventReasons.TargetReturned, $"task {target.TaskId} is back in the load balancer: {why}", target.Service, target.TaskId));
    }

    /// <summary>
    /// Recomputes the eligible targets: ready and not ejected, unless fewer than the panic threshold of them are, in which
    /// case every target that has ever been ready (Envoy's panic routing: better an unhealthy task than an overloaded one).
    /// </summary>
    private Snapshot Rebuild()
    {
        lock (_lock)
        {
            var now = _time.GetTimestamp();
            foreach (var expired in _targets.Where(t => t.EjectedUntil != 0 && now >= t.EjectedUntil).ToList())
            {
                Return(expired, "its ejection time is over");
            }

            var known = _targets.Where(t => !t.Draining).ToList();
            var ready = known.Where(t => t.Ready && t.EjectedUntil == 0).ToList();
            var threshold = Service.PanicThreshold;
            var panic = threshold > 0 && known.Count > 0 && ready.Count * 100 < threshold * known.Count;
            var eligible = (panic ? known : ready).ToImmutableArray();
            var previous = _snapshot;
            if (panic != previous.Panic)
            {
                _events.Append(new FleetEvent(
                    _time.GetUtcNow(),
                    panic ? EventReasons.PanicMode : EventReasons.PanicModeEnded,
                    panic
                        ? $"service {Service.Name} is in panic mode: {ready.Count} of {known.Count} targets healthy, below its {threshold}% threshold; routing to all {known.Count}"
                        : $"service {Service.Name} left panic mode: {ready.Count} of {known.Count} targets healthy",
                    Service.Name));
            }

            var recheckAt = _targets.Where(t => t.EjectedUntil != 0).Select(t => t.EjectedUntil).DefaultIfEmpty(long.MaxValue).Min();
            var set = eligible.SequenceEqual(previous.Eligible.Targets) ? previous.Eligible : new TargetSet(eligible);
            var snapshot = new Snapshot(set, panic, recheckAt, Splits(eligible, previous));
            _snapshot = snapshot;
            return snapshot;
        }
    }

    /// <summary>
    /// The eligible targets by revision with their cumulative traffic shares, when a deployment steers traffic; none
    /// otherwise, or when no revision with a share has an eligible target (then every eligible one serves: better than a 503).
    /// A revision's set is reused while its members are the same, so that policies keep what they cached for it.
    /// </summary>
    private ImmutableArray<(TargetSet Targets, int CumulativeWeight)> Splits(ImmutableArray<Target> eligible, Snapshot previous)
    {
        if (_traffic is null)
        {
            return [];
        }

        var splits = ImmutableArray.CreateBuilder<(TargetSet, int)>();
        var cumulative = 0;
        foreach (var (revision, weight) in _traffic.Where(kv => kv.Value > 0).OrderBy(kv => kv.Key))
        {
            var members = eligible.Where(t => t.Revision == revision).ToImmutableArray();
            if (members.IsEmpty)
            {
                continue;
            }

            var reused = previous.Splits.Select(s => s.Targets).FirstOrDefault(s => s.Targets.SequenceEqual(members));
            cumulative += weight;
            splits.Add((reused ?? new TargetSet(members), cumulative));
        }

        return splits.ToImmutable();
    }

    private long Ticks(TimeSpan duration) => (long)(duration.TotalSeconds * _time.TimestampFrequency);

    /// <summary>
    /// What requests read: the eligible targets, whether they are the panic set, when an ejection ends, and the split of
    /// the eligible targets by revision while a deployment steers traffic.
    /// </summary>
    internal sealed record Snapshot(TargetSet Eligible, bool Panic, long RecheckAt, ImmutableArray<(TargetSet Targets, int CumulativeWeight)> Splits);
}
