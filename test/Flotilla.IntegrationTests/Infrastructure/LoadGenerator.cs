using System.Collections.Concurrent;

namespace Flotilla.IntegrationTests.Infrastructure;

/// <summary>
/// Clients sending requests back to back through a listener until stopped (a closed loop: as many requests in flight
/// as clients, whatever the latency), counting every answer that is not a 2xx and every request that got no answer:
/// what "zero failed requests during a deploy" is measured with. They also stop when the test is cancelled.
/// </summary>
internal sealed class LoadGenerator : IAsyncDisposable
{
    private readonly CancellationTokenSource _stop = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
    private readonly ConcurrentQueue<string> _failures = new();
    private readonly HttpClient _client = new() { Timeout = TimeSpan.FromSeconds(30) };
    private readonly Task[] _workers;
    private long _succeeded;

    public LoadGenerator(string url, int clients = 4)
    {
        _workers = Enumerable.Range(0, clients).Select(_ => Task.Run(() => RunAsync(url))).ToArray();
    }

    public long Succeeded => Interlocked.Read(ref _succeeded);

    public IReadOnlyCollection<string> Failures => _failures;

    /// <summary>Stops the clients and waits for their last requests.</summary>
    public async Task StopAsync()
    {
        await _stop.CancelAsync();
        await Task.WhenAll(_workers);
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        _client.Dispose();
        _stop.Dispose();
    }

    private async Task RunAsync(string url)
    {
        while (!_stop.IsCancellationRequested)
        {
            try
            {
                using var response = await _client.GetAsync(url, _stop.Token);
                if (response.IsSuccessStatusCode)
                {
                    Interlocked.Increment(ref _succeeded);
                }
                else
                {
                    _failures.Enqueue($"{DateTimeOffset.UtcNow:HH:mm:ss.fff} HTTP {(int)response.StatusCode} from {string.Join(",", response.Headers.TryGetValues("X-Task-Id", out var task) ? task : [])}");
                }
            }
            catch (OperationCanceledException) when (_stop.IsCancellationRequested)
            {
            }
            catch (HttpRequestException e)
            {
                _failures.Enqueue($"{DateTimeOffset.UtcNow:HH:mm:ss.fff} {e.Message}");
            }
        }
    }
}
