namespace Flotilla.Core.Scheduling;

/// <summary>
/// Per-service launch throttling for tasks that keep failing right after they start: 1s, doubling, capped at 60s —
/// Kubernetes' CrashLoopBackOff shape with ECS's idea that the throttle belongs to the service, not one task.
/// A task that becomes healthy resets it.
/// </summary>
public sealed record LaunchBackoff(int ConsecutiveFailures, DateTimeOffset NotBefore)
{
    /// <summary>An unplanned exit this soon after start counts as a failed start.</summary>
    public static readonly TimeSpan QuickExitWindow = TimeSpan.FromSeconds(10);

    public static readonly TimeSpan InitialDelay = TimeSpan.FromSeconds(1);

    public static readonly TimeSpan MaxDelay = TimeSpan.FromSeconds(60);

    public static LaunchBackoff None { get; } = new(0, DateTimeOffset.MinValue);

    public bool IsActive(DateTimeOffset now) => now < NotBefore;

    public LaunchBackoff AfterFailure(DateTimeOffset now)
    {
        var failures = ConsecutiveFailures + 1;
        return new LaunchBackoff(failures, now + DelayAfter(failures));
    }

    public static TimeSpan DelayAfter(int failures)
    {
        var doublings = Math.Min(failures - 1, 16);
        var delay = InitialDelay * (1L << doublings);
        return delay > MaxDelay ? MaxDelay : delay;
    }
}
