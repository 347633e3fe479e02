using Flotilla.Core.Fleet;
using Flotilla.Core.Health;
using Flotilla.Core.Spec;
using Flotilla.Health;
using Flotilla.Runtime;

namespace Flotilla.Scheduling;

/// <summary>
/// The imperative life of one task: launch it, run its readiness and liveness checks while it runs, notice its exit,
/// and stop it when asked — drained from the load balancer first, then SIGTERM, then SIGKILL. It decides nothing; it
/// reports each observation to the scheduler's loop as a <see cref="FleetTransition"/>.
/// </summary>
internal sealed class TaskSupervisor(
    TaskRecord task,
    TaskLaunch launch,
    ServiceSpec service,
    ITaskDriver driver,
    HealthChecker checker,
    ITargetDrainer drainer,
    TimeProvider time,
    Action<FleetTransition> post)
{
    private readonly TaskCompletionSource<ITaskHandle?> _handle = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly CancellationTokenSource _checks = new();
    private readonly Lock _lock = new();
    private Task? _stopping;

    public string TaskId => task.Id;

    public int Port => task.Port;

    public void Start() => _ = RunAsync();

    /// <summary>
    /// Drain (when <paramref name="drain"/>), then SIGTERM, stopTimeout, SIGKILL. Safe to call more than once; every call
    /// returns the first stop.
    /// </summary>
    public Task StopAsync(bool drain)
    {
        lock (_lock)
        {
            return _stopping ??= StopCoreAsync(drain);
        }
    }

    /// <summary>SIGKILL now, when a shutdown has run out of time.</summary>
    public void Kill()
    {
        if (_handle.Task.IsCompletedSuccessfully)
        {
            _handle.Task.Result?.Kill();
        }
    }

    private async Task RunAsync()
    {
        ITaskHandle handle;
        try
        {
            handle = await driver.StartAsync(launch, CancellationToken.None);
        }
        catch (Exception e)
        {
            _handle.SetResult(null);
            var at = time.GetUtcNow();
            post((s, ev) => s.TaskFailedToStart(task.Id, e.Message, at, ev));
            return;
        }

        _handle.SetResult(handle);
        var startedAt = time.GetUtcNow();
        post((s, ev) => s.TaskStarted(task.Id, handle.Pid, startedAt, ev));

        var readiness = checker.RunAsync(task.Port, service.Health, Report((s, r, at, ev) => s.HealthChecked(task.Id, r, at, ev)), _checks.Token);
        var liveness = service.Liveness is { } spec
            ? checker.RunAsync(task.Port, spec, Report((s, r, at, ev) => s.LivenessChecked(task.Id, r, at, ev)), _checks.Token)
            : Task.CompletedTask;
        var exitCode = await handle.Exited;
        var exitedAt = time.GetUtcNow();
        await _checks.CancelAsync();
        await Task.WhenAll(readiness, liveness).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        post((s, ev) => s.TaskExited(task.Id, exitCode, exitedAt, ev));
    }

    private Action<HealthCheckResult> Report(Func<FleetState, HealthCheckResult, DateTimeOffset, List<Core.Events.FleetEvent>, FleetState> transition) =>
        result =>
        {
            var at = time.GetUtcNow();
            post((s, ev) => transition(s, result, at, ev));
        };

    private async Task StopCoreAsync(bool drain)
    {
        if (drain)
        {
            var began = time.GetUtcNow();
            var left = await drainer.DrainAsync(task.Service, task.Id, service.DeregistrationDelay, CancellationToken.None);
            var took = time.GetUtcNow() - began;
            post((s, ev) => s.DrainCompleted(task.Id, left, took, time.GetUtcNow(), ev));
        }

        await _checks.CancelAsync();
        if (await _handle.Task is { } handle)
        {
            await handle.StopAsync(service.StopTimeout);
        }
    }
}
