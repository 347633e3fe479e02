using System.Net.Sockets;
using Flotilla.Core;
using Flotilla.Core.Health;
using Flotilla.Core.Spec;

namespace Flotilla.Health;

/// <summary>
/// The active checks: GET <c>path</c> on the task's port (200–399 within <c>timeout</c> passes), or a TCP connect.
/// Every HTTP check uses a new connection (<c>Connection: close</c>), like a load balancer's, so that a task that can no
/// longer accept connections fails even if an old keep-alive connection still works.
/// </summary>
internal sealed class HealthChecker(TimeProvider time) : IDisposable
{
    private readonly HttpClient _client = new(new SocketsHttpHandler
    {
        UseProxy = false,
        AllowAutoRedirect = false,
        UseCookies = false,
        PooledConnectionLifetime = TimeSpan.Zero,
    })
    {
        Timeout = Timeout.InfiniteTimeSpan,
    };

    public async Task<HealthCheckResult> CheckAsync(int port, HealthCheckSpec spec, CancellationToken cancellationToken)
    {
        using var timeout = new CancellationTokenSource(spec.Timeout, time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timeout.Token);
        if (spec.Type == CheckType.Tcp)
        {
            return await ConnectAsync(port, spec, timeout, linked.Token, cancellationToken);
        }

        using var request = new HttpRequestMessage(HttpMethod.Get, $"http://127.0.0.1:{port}{spec.Path}");
        request.Headers.ConnectionClose = true;
        request.Headers.UserAgent.ParseAdd("Flotilla-HealthCheck/1");
        try
        {
            using var response = await _client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, linked.Token);
            var status = (int)response.StatusCode;
            return status is >= 200 and < 400 ? HealthCheckResult.Pass : HealthCheckResult.Fail($"HTTP {status}");
        }
        catch (OperationCanceledException) when (timeout.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            return HealthCheckResult.Fail($"timed out after {Durations.Format(spec.Timeout)}");
        }
        catch (HttpRequestException e)
        {
            return HealthCheckResult.Fail(Describe(e));
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // Whatever went wrong, it is a failed check, not the end of checking: the loop must go on.
            return HealthCheckResult.Fail(e.Message);
        }
    }

    /// <summary>Checks every <c>health.interval</c>, the first one interval after the call, until cancelled.</summary>
    public async Task RunAsync(int port, HealthCheckSpec spec, Action<HealthCheckResult> report, CancellationToken cancellationToken)
    {
        using var timer = new PeriodicTimer(spec.Interval, time);
        try
        {
            while (await timer.WaitForNextTickAsync(cancellationToken))
            {
                report(await CheckAsync(port, spec, cancellationToken));
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
    }

    public void Dispose() => _client.Dispose();

    private static async Task<HealthCheckResult> ConnectAsync(int port, HealthCheckSpec spec, CancellationTokenSource timeout, CancellationToken linked, CancellationToken cancellationToken)
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            await socket.ConnectAsync(new System.Net.IPEndPoint(System.Net.IPAddress.Loopback, port), linked);
            return HealthCheckResult.Pass;
        }
        catch (OperationCanceledException) when (timeout.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            return HealthCheckResult.Fail($"TCP connect timed out after {Durations.Format(spec.Timeout)}");
        }
        catch (SocketException e)
        {
            return HealthCheckResult.Fail(e.SocketErrorCode == SocketError.ConnectionRefused ? "connection refused" : e.SocketErrorCode.ToString());
        }
    }

    private static string Describe(HttpRequestException e) => e.InnerException switch
    {
        SocketException { SocketErrorCode: SocketError.ConnectionRefused } => "connection refused",
        SocketException s => s.SocketErrorCode.ToString(),
        _ when e.HttpRequestError == HttpRequestError.ResponseEnded => "connection closed before a response",
        _ => e.HttpRequestError == HttpRequestError.Unknown ? e.Message : e.HttpRequestError.ToString(),
    };
}
