using Flotilla.Core.Fleet;
using Flotilla.Core.Spec;
using Flotilla.Health;
using Flotilla.Runtime;

namespace Flotilla.Scheduling;

/// <summary>
/// The imperative life of one task: launch it, health-check it while it runs, notice its exit, stop it when asked.
/// It decides nothing; it reports each observation to the scheduler's loop as a <see cref="FleetTransition"/>.
/// </summary>
internal sealed class TaskSupervisor(
    TaskRecord task,
    TaskLaunch launch,
    ServiceSpec service,
    ITaskDriver driver,
    HttpHealthChecker checker,
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

    /// <summary>SIGTERM, stopTimeout, SIGKILL. Safe to call more than once; every call returns the same stop.</summary>
    public Task StopAsync()
    {
        lock (_lock)
        {
            return _stopping ??= StopCoreAsync();
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

        var checks = checker.RunAsync(task.Port, service.Health, Report, _checks.Token);
        var exitCode = await handle.Exited;
        var exitedAt = time.GetUtcNow();
        await _checks.CancelAsync();
        await checks.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        post((s, ev) => s.TaskExited(task.Id, exitCode, exitedAt, ev));
    }

    private void Report(Core.Health.HealthCheckResult result)
    {
        var at = time.GetUtcNow();
        post((s, ev) => s.HealthChecked(task.Id, result, at, ev));
    }

    private async Task StopCoreAsync()
    {
        await _checks.CancelAsync();
        if (await _handle.Task is { } handle)
        {
            await handle.StopAsync(service.StopTimeout);
        }
    }
}
