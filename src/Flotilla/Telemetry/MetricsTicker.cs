using Flotilla.Core.Metrics;

namespace Flotilla.Telemetry;

/// <summary>
/// The metric store's clock: just after each second turns, samples the tasks' gauges and closes the second in the
/// <see cref="MetricStore"/>.
/// </summary>
internal sealed partial class MetricsTicker(MetricStore store, TaskSampler sampler, TimeProvider time, ILogger<MetricsTicker> logger) : BackgroundService
{
    /// <summary>
    /// How long after the second turns to tick. A timer can fire a little early; ticking just before the boundary would
    /// close nothing, and the next tick would close two seconds at once.
    /// </summary>
    private static readonly TimeSpan PastTheSecond = TimeSpan.FromMilliseconds(5);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        try
        {
            while (true)
            {
                // A delay to the next boundary each time, rather than a PeriodicTimer, keeps ticks on the second however
                // long a tick takes or however late one fires: points then cover the second they are labelled with.
                var now = time.GetUtcNow();
                var untilNextSecond = TimeSpan.FromSeconds(1) - TimeSpan.FromTicks(now.Ticks % TimeSpan.TicksPerSecond);
                await Task.Delay(untilNextSecond + PastTheSecond, time, stoppingToken);
                Tick();
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Stopped, or the host failed to start: no failure of the ticker's own.
        }
    }

    private void Tick()
    {
        // Metrics are worth less than the fleet: a failure loses a second of points, never the host.
        try
        {
            sampler.Sample();
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            LogSampleFailed(e);
        }

        try
        {
            store.Advance();
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            LogAdvanceFailed(e);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "sampling task metrics failed; this second has no CPU, RSS or in-flight points")]
    private partial void LogSampleFailed(Exception exception);

    [LoggerMessage(Level = LogLevel.Error, Message = "closing a second in the metric store failed; its points are lost")]
    private partial void LogAdvanceFailed(Exception exception);
}
