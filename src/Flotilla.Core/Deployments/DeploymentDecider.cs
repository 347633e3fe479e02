using System.Collections.Immutable;
using System.Globalization;
using Flotilla.Core.Events;
using Flotilla.Core.Fleet;
using Flotilla.Core.Health;
using Flotilla.Core.Metrics;
using Flotilla.Core.Scheduling;
using Flotilla.Core.Spec;

namespace Flotilla.Core.Deployments;

/// <summary>A canary step's evidence: the canary revision's tasks and the stable revision's, over the same window.</summary>
public sealed record CanaryFigures(GroupFigures Canary, GroupFigures Stable);

/// <summary>
/// Moves a service through a deployment, one decision at a time — a pure function of the service, its tasks, the time
/// and (for a canary) the step's figures, like <see cref="SchedulerDecider"/>, which hands it the services that have a
/// deployment in progress.
/// </summary>
/// <remarks>
/// Rolling follows ECS: at every moment, at least ⌈desired × minHealthyPercent⌉ tasks are healthy and at most
/// ⌊desired × maxPercent⌋ exist (draining and stopping ones included, as they still hold their resources). Where the
/// rounding would leave no room to move (desired 1 at 100/150), one task of headroom is allowed, so that a deployment
/// never deadlocks. Every strategy shares ECS's circuit breaker: new tasks that exit, fail their liveness check, or are
/// not healthy in time count as failures, and clamp(⌈desired / 2⌉, 3, 200) of them fail the deployment — rolled back to
/// the last revision whose deployment completed, when <c>rollback</c> is on.
/// </remarks>
public static class DeploymentDecider
{
    /// <summary>When a canary step is due to be judged: its revisions and its window; null when nothing is due.</summary>
    public static (int Canary, int Stable, TimeSpan Window)? AnalysisDue(ServiceState service, DateTimeOffset now) =>
        service.ActiveDeployment is { Strategy: DeploymentStrategy.Canary, StepStartedAt: { } started, StableRevision: { } stable } deployment
        && service.Spec.Deployment.Steps[deployment.Step] < 100
        && now >= started + service.Spec.Deployment.StepDuration
            ? (deployment.ToRevision, stable, service.Spec.Deployment.StepDuration)
            : null;

    public static SchedulerDecision Decide(ServiceState service, DeploymentRecord deployment, IReadOnlyList<TaskRecord> tasks, DateTimeOffset now, CanaryFigures? figures) =>
        new Step(service, deployment, tasks, now).Decide(figures);

    /// <summary>One decision's working set: what the deployment sees, and the actions it has chosen so far.</summary>
    private sealed class Step
    {
        private readonly ServiceState _service;
        private readonly DeploymentSpec _settings;
        private readonly IReadOnlyList<TaskRecord> _tasks;
        private readonly DateTimeOffset _now;
        private readonly ImmutableArray<SchedulerAction>.Builder _actions = ImmutableArray.CreateBuilder<SchedulerAction>();
        private readonly HashSet<string> _stopping = [];
        private readonly DeploymentRecord _original;
        private DeploymentRecord _deployment;
        private DateTimeOffset? _wakeAt;
        private string? _failure;

        public Step(ServiceState service, DeploymentRecord deployment, IReadOnlyList<TaskRecord> tasks, DateTimeOffset now)
        {
            _service = service;
            _original = deployment;
            _deployment = deployment;
            _settings = service.Spec.Deployment;
            _tasks = tasks;
            _now = now;
        }

        private string Name => _service.Name;

        private int Desired => _service.Desired;

        private int Target => _deployment.ToRevision;

        /// <summary>Tasks that count toward the desired count and are not being stopped by this decision.</summary>
        private List<TaskRecord> Live => _tasks.Where(t => t.IsLive && !_stopping.Contains(t.Id)).ToList();

        private List<TaskRecord> NewLive => Live.Where(t => t.Revision == Target).ToList();

        private List<TaskRecord> OldLive => Live.Where(t => t.Revision != Target).ToList();

        /// <summary>Tasks that still exist — draining and stopping ones too: what maxPercent bounds.</summary>
        private int Present => _tasks.Count(t => t.State != TaskState.Stopped);

        private bool OldGone => !_tasks.Any(t => t.Revision != Target && t.State != TaskState.Stopped);

        public SchedulerDecision Decide(CanaryFigures? figures)
        {
            ReplaceDeadTasks();
            if (CountFailures() is { } failure)
            {
                return Fail(failure);
            }

            switch (_deployment.Strategy)
            {
                case DeploymentStrategy.Canary:
                    Canary(figures);
                    break;
                case DeploymentStrategy.BlueGreen:
                    BlueGreen();
                    break;
                default:
                    Rolling();
                    break;
            }

            return Finish();
        }

        /// <summary>
        /// Tasks condemned by their liveness check, and new ones that did not become healthy in time, are stopped as
        /// failed — what the circuit breaker counts.
        /// </summary>
        private void ReplaceDeadTasks()
        {
            foreach (var task in Live.Where(t => t.Liveness?.State == HealthState.Unhealthy))
            {
                Stop(task, StopReasons.FailedHealthChecks, failed: true);
            }

            // Only where there is a revision to fall back to: at a service's very first start, stopping a slow starter
            // would only make it start slowly again.
            if (_deployment.StableRevision is null)
            {
                return;
            }

            foreach (var task in NewLive.Where(t => t.State == TaskState.Running && t.HealthyAt is null && _now - t.StartedAt > StartDeadline(t)))
            {
                Stop(task, StopReasons.NeverHealthy, failed: true);
            }
        }

        /// <summary>
        /// How long a new task has to pass its readiness check: its grace period, or the time its first passes take,
        /// whichever is longer, plus one more check.
        /// </summary>
        private TimeSpan StartDeadline(TaskRecord task)
        {
            var health = _service.RevisionOf(task.Revision).Spec.Health;
            var firstPasses = health.Interval * health.HealthyThreshold;
            return (health.GracePeriod > firstPasses ? health.GracePeriod : firstPasses) + health.Interval + health.Timeout;
        }

        /// <summary>Counts new-revision tasks that failed; returns why the deployment fails when the breaker trips.</summary>
        private string? CountFailures()
        {
            var failed = _tasks
                .Where(t => t.Revision == Target && (t.Failed || _stopping.Contains(t.Id)) && !_deployment.CountedFailures.Contains(t.Id))
                .Select(t => t.Id)
                .ToList();
            if (failed.Count > 0)
            {
                _deployment = _deployment with { CountedFailures = _deployment.CountedFailures.Union(failed) };
            }

            var threshold = DeploymentRecord.FailureThreshold(Desired);
            return _settings.CircuitBreaker && _deployment.FailedTasks >= threshold
                ? $"{_deployment.FailedTasks} tasks of revision {Target} failed to become healthy (circuit breaker threshold {threshold})"
                : null;
        }

        /// <summary>ECS's rolling update; canary and blue/green finish with it too.</summary>
        private void Rolling()
        {
            var minHealthy = (int)Math.Ceiling(Desired * _settings.MinHealthyPercent / 100.0);
            var maxPresent = Desired * _settings.MaxPercent / 100;
            if (Desired > 0 && maxPresent <= minHealthy)
            {
                maxPresent = minHealthy + 1;
            }

            StartNew(Math.Min(maxPresent - Present, Desired - NewLive.Count));

            // Old tasks that serve nothing go first and freely; serving ones only while minHealthy stays healthy.
            var healthy = Live.Count(t => t.IsInService);
            foreach (var old in OldLive.OrderBy(t => t.IsInService ? 1 : 0).ThenBy(t => t.Sequence))
            {
                if (!old.IsInService)
                {
                    Stop(old, StopReasons.ReplacedBy(_deployment.Id));
                }
                else if (healthy - 1 >= minHealthy)
                {
                    Stop(old, StopReasons.ReplacedBy(_deployment.Id));
                    healthy--;
                }
            }

            TrimNew();
            CompleteWhenDone();
        }

        /// <summary>
        /// Canary: at each step, ⌈desired × step%⌉ new tasks take step% of the traffic for stepDuration, then the step is
        /// judged against the stable tasks over the same window; the 100% step promotes the new revision.
        /// </summary>
        private void Canary(CanaryFigures? figures)
        {
            var percent = _settings.Steps[_deployment.Step];
            if (percent == 100 || _deployment.StableRevision is not { } stable)
            {
                Promote();
                return;
            }

            var canaries = Math.Clamp((int)Math.Ceiling(Desired * percent / 100.0), 1, Math.Max(Desired, 1));
            StartNew(canaries - NewLive.Count);

            // The stable revision stays at full strength while a canary runs beside it.
            Start(stable, Desired - OldLive.Count(t => t.Revision == stable));
            StopOthers(stable);

            if (_deployment.StepStartedAt is not { } started)
            {
                var ready = NewLive.Count(t => t.IsInService);
                if (ready >= canaries)
                {
                    Emit(SetTrafficTo(stable, percent));
                    _deployment = _deployment with { StepStartedAt = _now };
                    Progress($"canary step {_deployment.Step + 1} of {_settings.Steps.Length}: {percent}% of traffic to revision {Target} on {ready} task{(ready == 1 ? "" : "s")}");
                    Wake(_now + _settings.StepDuration);
                }

                return;
            }

            if (_now < started + _settings.StepDuration)
            {
                Wake(started + _settings.StepDuration);
                return;
            }

            if (figures is null)
            {
                // The shell gathers the figures when AnalysisDue says so; until they arrive, look again shortly.
                Wake(_now + TimeSpan.FromSeconds(1));
                return;
            }

            var verdict = Judge(figures);
            if (verdict.Failed)
            {
                _failure = $"canary step {_deployment.Step + 1} ({percent}%) failed: {verdict.Figures}";
                return;
            }

            Progress($"canary step {_deployment.Step + 1} ({percent}%) passed: {verdict.Figures}");
            _deployment = _deployment with { Step = _deployment.Step + 1, StepStartedAt = null };
        }

        /// <summary>
        /// Blue/green: a full set of the new revision, all traffic switched at once when every one is healthy, the old set
        /// kept idle for bakeTime (a rollback meanwhile only moves the traffic back), then stopped.
        /// </summary>
        private void BlueGreen()
        {
            StartNew(Desired - NewLive.Count);
            TrimNew();
            if (_deployment.SwitchedAt is not { } switched)
            {
                if (NewLive.Count(t => t.IsInService) >= Desired)
                {
                    Emit(new SetTraffic(Name, ImmutableDictionary<int, int>.Empty.Add(Target, 100)));
                    _deployment = _deployment with { SwitchedAt = _now };
                    Progress($"all traffic switched to revision {Target}; the old tasks stay up, idle, for {Durations.Format(_settings.BakeTime)}");
                    Wake(_now + _settings.BakeTime);
                }

                return;
            }

            if (_now < switched + _settings.BakeTime)
            {
                Wake(switched + _settings.BakeTime);
                return;
            }

            foreach (var old in OldLive)
            {
                Stop(old, StopReasons.ReplacedBy(_deployment.Id));
            }

            CompleteWhenDone();
        }

        /// <summary>The last step: the new revision at full strength takes all traffic, then the old tasks go.</summary>
        private void Promote()
        {
            StartNew(Desired - NewLive.Count);
            TrimNew();
            if (NewLive.Count(t => t.IsInService) < Desired)
            {
                return;
            }

            if (_service.Traffic is not null && !(_service.Traffic.Count == 1 && _service.Traffic.GetValueOrDefault(Target) == 100))
            {
                Emit(new SetTraffic(Name, ImmutableDictionary<int, int>.Empty.Add(Target, 100)));
            }

            foreach (var old in OldLive)
            {
                Stop(old, StopReasons.ReplacedBy(_deployment.Id));
            }

            CompleteWhenDone();
        }

        private (bool Failed, string Figures) Judge(CanaryFigures figures)
        {
            var analysis = _settings.Analysis;
            var (canary, stable) = (figures.Canary, figures.Stable);
            if (canary.Requests < analysis.MinRequests)
            {
                return (false, $"not judged: the canary served {canary.Requests} requests, fewer than minRequests {analysis.MinRequests}");
            }

            var errorsFail = canary.ErrorRate > analysis.MaxErrorRate;
            double? ratio = canary.Latency is { } c && stable.Latency is { } s && s > 0 ? c / s : null;
            var latencyFail = ratio > analysis.MaxP99Ratio;
            var text = $"error rate {Percent(canary.ErrorRate)} {(errorsFail ? ">" : "≤")} {Percent(analysis.MaxErrorRate)} (stable {Percent(stable.ErrorRate)}); "
                + $"p99 {Millis(canary.Latency)} vs stable {Millis(stable.Latency)}"
                + (ratio is { } r ? $" (ratio {r.ToString("0.00", CultureInfo.InvariantCulture)} {(latencyFail ? ">" : "≤")} {analysis.MaxP99Ratio.ToString(CultureInfo.InvariantCulture)})" : "")
                + $"; {canary.Requests} canary and {stable.Requests} stable requests";
            return (errorsFail || latencyFail, text);
        }

        private void StartNew(int count) => Start(Target, count);

        /// <summary>Starts <paramref name="count"/> tasks of <paramref name="revision"/>, or wakes when a launch back-off ends.</summary>
        private void Start(int revision, int count)
        {
            if (count <= 0)
            {
                return;
            }

            if (_service.Backoff.IsActive(_now))
            {
                Wake(_service.Backoff.NotBefore);
                return;
            }

            for (var i = 0; i < count; i++)
            {
                Emit(new StartTask(Name, revision));
            }
        }

        /// <summary>Tasks of neither the canary nor the stable revision — a superseded deployment's — go.</summary>
        private void StopOthers(int stable)
        {
            foreach (var task in OldLive.Where(t => t.Revision != stable))
            {
                Stop(task, StopReasons.ReplacedBy(_deployment.Id));
            }
        }

        /// <summary>Scale-in during a deployment applies to the new revision.</summary>
        private void TrimNew()
        {
            foreach (var extra in SchedulerDecider.ScaleInOrder(NewLive).Take(NewLive.Count - Desired))
            {
                Stop(extra, StopReasons.ScaleIn);
            }
        }

        private void CompleteWhenDone()
        {
            if (!OldGone || NewLive.Count != Desired || !NewLive.All(t => t.IsInService))
            {
                return;
            }

            var took = Durations.Format(TimeSpan.FromSeconds(Math.Round((_now - _deployment.StartedAt).TotalSeconds)));
            _deployment = _deployment with
            {
                Status = DeploymentStatus.Completed,
                EndedAt = _now,
                Outcome = $"revision {Target} runs on {Desired} healthy task{(Desired == 1 ? "" : "s")}",
            };
            Emit(new RaiseEvent(new FleetEvent(_now, EventReasons.DeploymentCompleted, $"deployment {_deployment.Id} of {Name} completed: revision {Target} runs on {Desired} healthy task{(Desired == 1 ? "" : "s")} (took {took})", Name)));
            if (_service.Traffic is not null)
            {
                Emit(new SetTraffic(Name, null));
            }
        }

        private SchedulerDecision Fail(string why)
        {
            var stable = _deployment.StableRevision;
            var rollback = _settings.Rollback && stable is not null && stable != Target;
            var next = rollback ? $"rolling back to revision {stable}"
                : !_settings.Rollback ? "rollback is off"
                : "no earlier revision completed a deployment, so there is nothing to roll back to";
            _deployment = _deployment with
            {
                Status = rollback ? DeploymentStatus.RolledBack : DeploymentStatus.Failed,
                EndedAt = _now,
                Outcome = $"{why}; {next}",
            };
            Emit(new UpdateDeployment(Name, _deployment));
            Emit(new RaiseEvent(new FleetEvent(_now, EventReasons.DeploymentFailed, $"deployment {_deployment.Id} of {Name} failed: {why}; {next}", Name)));
            Emit(rollback
                ? new BeginRollback(Name, stable!.Value, _deployment.Id, $"rollback of deployment {_deployment.Id} (failed)")
                : new SetTraffic(Name, null));
            return new SchedulerDecision(_actions.ToImmutable(), Steady: false, WakeAt: null);
        }

        private SchedulerDecision Finish()
        {
            if (_failure is not null)
            {
                return Fail(_failure);
            }

            if (_deployment != _original)
            {
                _actions.Insert(0, new UpdateDeployment(Name, _deployment));
            }

            return new SchedulerDecision(_actions.ToImmutable(), Steady: false, _wakeAt);
        }

        private SetTraffic SetTrafficTo(int stable, int percent) =>
            new(Name, ImmutableDictionary<int, int>.Empty.Add(stable, 100 - percent).Add(Target, percent));

        private void Stop(TaskRecord task, string reason, bool failed = false)
        {
            if (_stopping.Add(task.Id))
            {
                Emit(new StopTask(Name, task.Id, reason, failed));
            }
        }

        private void Progress(string message) =>
            Emit(new RaiseEvent(new FleetEvent(_now, EventReasons.DeploymentProgress, $"deployment {_deployment.Id} of {Name}: {message}", Name)));

        private void Emit(SchedulerAction action) => _actions.Add(action);

        private void Wake(DateTimeOffset at) => _wakeAt = _wakeAt is { } earlier && earlier < at ? earlier : at;

        private static string Percent(double fraction) => (fraction * 100).ToString("0.##", CultureInfo.InvariantCulture) + "%";

        private static string Millis(double? seconds) => seconds is { } s ? (s * 1000).ToString("0.#", CultureInfo.InvariantCulture) + "ms" : "n/a";
    }
}
