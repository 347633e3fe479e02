using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Flotilla.IntegrationTests.Infrastructure;

/// <summary>A bare TCP connection to a listener, for tests that write requests byte by byte and time what comes back.</summary>
internal static class RawConnection
{
    private static CancellationToken Cancel => TestContext.Current.CancellationToken;

    public static async Task<TcpClient> OpenAsync(FlotillaInstance flotilla, string listener)
    {
        var client = new TcpClient();
        try
        {
            await client.ConnectAsync(IPAddress.Loopback, new Uri(flotilla.Listener(listener)).Port, Cancel);
            return client;
        }
        catch
        {
            client.Dispose();
            throw;
        }
    }

    public static async Task SendAsync(this TcpClient client, string text) => await client.GetStream().WriteAsync(Encoding.ASCII.GetBytes(text), Cancel);

    /// <summary>Whether the server closes (or resets) the connection within <paramref name="wait"/>, sending nothing.</summary>
    public static async Task<bool> ClosedAsync(this TcpClient client, TimeSpan wait)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(Cancel);
        timeout.CancelAfter(wait);
        try
        {
            return await client.GetStream().ReadAsync(new byte[1], timeout.Token) == 0;
        }
        catch (IOException)
        {
            return true;
        }
        catch (OperationCanceledException) when (!Cancel.IsCancellationRequested)
        {
            return false;
        }
    }

    /// <summary>What arrives within <paramref name="wait"/> in one read: "" if nothing does, or if the server closed.</summary>
    public static async Task<string> ReadSomeAsync(this TcpClient client, TimeSpan wait)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(Cancel);
        timeout.CancelAfter(wait);
        var buffer = new byte[4096];
        try
        {
            var n = await client.GetStream().ReadAsync(buffer, timeout.Token);
            return Encoding.ASCII.GetString(buffer, 0, n);
        }
        catch (OperationCanceledException) when (!Cancel.IsCancellationRequested)
        {
            return "";
        }
    }
}
