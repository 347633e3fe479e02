using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text.RegularExpressions;
using Flotilla.IntegrationTests.Infrastructure;

namespace Flotilla.IntegrationTests;

/// <summary>
/// <c>loadBalancer.maxConnections</c>: at the limit new connections wait in the listen backlog until some close, on the
/// fast path and on a <c>fastPath: false</c> listener alike, while an HTTPS listener (Kestrel's accepts) closes them;
/// and by default the limit keeps Flotilla within its open-files limit, where running out of descriptors used to abort it.
/// </summary>
public sealed class ConnectionLimitTests
{
    private const string Get = "GET /health HTTP/1.1\r\nHost: a\r\n\r\n";

    private static CancellationToken Cancel => TestContext.Current.CancellationToken;

    [Fact(Timeout = 120_000)]
    public async Task AtTheLimit_NewConnectionsWait_UntilHeldOnesClose_HttpsOnesAreClosed()
    {
        const string Secure = """
              - name: secure
                listen: 127.0.0.1:0
                protocol: https
                tls: { certificates: [{ cert: a.pem, key: a.key }] }
                rules: *rules
            """;
        await using var flotilla = await FlotillaInstance.StartAsync(
            Specs.Fleet("loadBalancer: { maxConnections: 4 }\n" + Specs.BothPaths("shop", Secure), Specs.Shop("shop", 1)),
            directory => TestCertificates.Write(directory, "a", "a.test"));
        await flotilla.WaitForHealthyAsync("shop", 1);
        var held = new List<TcpClient>();
        var waiting = new List<TcpClient>();
        try
        {
            foreach (var listener in new[] { "web", "web", "yarp", "yarp" })
            {
                var client = await RawConnection.OpenAsync(flotilla, listener);
                held.Add(client);
                await client.SendAsync(Get);
                Assert.StartsWith("HTTP/1.1 200 OK", await client.ReadSomeAsync(TimeSpan.FromSeconds(10)), StringComparison.Ordinal);
            }

            Assert.Equal((4, 4), await ConnectionsAsync(flotilla));
            foreach (var listener in new[] { "web", "yarp" })
            {
                var client = await RawConnection.OpenAsync(flotilla, listener); // the kernel completes it: it waits in the backlog
                waiting.Add(client);
                await client.SendAsync(Get);
            }

            foreach (var client in waiting)
            {
                Assert.Equal("", await client.ReadSomeAsync(TimeSpan.FromSeconds(1)));
            }

            Assert.Contains("the load balancer holds 4 client connections, its limit (loadBalancer.maxConnections)", flotilla.Process.Output, StringComparison.Ordinal);
            Assert.True(await ClosedAtOnceAsync(flotilla, "secure"), "an HTTPS connection over the limit was not closed");

            Assert.Equal((4, 4), await ConnectionsAsync(flotilla));
            Assert.Equal(1, await MetricAsync(flotilla, "flotilla_connections_rejected_total"));

            held[0].Dispose();
            held[2].Dispose();

            foreach (var client in waiting)
            {
                Assert.StartsWith("HTTP/1.1 200 OK", await client.ReadSomeAsync(TimeSpan.FromSeconds(10)), StringComparison.Ordinal);
            }

            Assert.Equal((4, 4), await ConnectionsAsync(flotilla));
        }
        finally
        {
            held.Concat(waiting).ToList().ForEach(c => c.Dispose());
        }
    }

    [Fact(Timeout = 120_000)]
    public async Task MoreConnectionsThanTheOpenFilesLimitAllows_FlotillaLivesOn_AndServesOnceTheyGo()
    {
        await using var flotilla = await FlotillaInstance.StartAsync(Specs.Fleet(Specs.Web("shop"), Specs.Shop("shop", 1)), openFiles: 600);
        await flotilla.WaitForHealthyAsync("shop", 1);
        var clients = new List<TcpClient>();
        try
        {
            // 300 clients, each with a request: 600 descriptors with their connections to the task, more than Flotilla
            // has left. The default limit (64 for 600 open files) takes some; the rest wait.
            for (var i = 0; i < 300; i++)
            {
                var client = await RawConnection.OpenAsync(flotilla, "web");
                clients.Add(client);
                await client.SendAsync(Get);
            }

            await Eventually.Until(() => ConnectionsAsync(flotilla), c => c == (64, 64), TimeSpan.FromSeconds(20), "the load balancer to fill its 64 connections");
            Assert.Contains("the open-files limit is 600: the load balancer holds at most 64 client connections", flotilla.Process.Output, StringComparison.Ordinal);

            foreach (var client in clients)
            {
                client.Dispose();
            }

            using var response = await flotilla.Http.GetAsync(flotilla.Listener() + "/health", Cancel);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.False(flotilla.Process.Exited.IsCompleted, $"Flotilla exited:\n{flotilla.Process.Output}");
        }
        finally
        {
            clients.ForEach(c => c.Dispose());
        }
    }

    [Fact(Timeout = 120_000)]
    public async Task AMaxConnectionsTheOpenFilesLimitCannotBack_IsRefusedAtStart_BeforeAnyTask()
    {
        var directory = FlotillaInstance.NewDirectory();
        var spec = Specs.Fleet("loadBalancer: { maxConnections: 1000 }\n" + Specs.Web("shop"), Specs.Shop("shop", 1));
        await File.WriteAllTextAsync(Path.Combine(directory, "flotilla.yaml"), spec, Cancel);

        var (code, output) = await OwnedProcess.RunProgramAsync(directory, TimeSpan.FromSeconds(60), "prlimit", "--nofile=600:600", "dotnet", Paths.FlotillaDll, "up", "flotilla.yaml");

        Assert.Equal(1, code);
        Assert.Contains(
            "flotilla could not start: loadBalancer.maxConnections is 1000, but the open-files limit (600) leaves room for 64 client connections " +
            "(each takes a descriptor, and its connection to a task another): raise the limit to at least 2512",
            output,
            StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", output);
        Assert.Empty(Directory.GetFiles(Path.Combine(directory, ".flotilla", "logs")));
        Directory.Delete(directory, recursive: true);
    }

    /// <summary>Whether a new connection to <paramref name="listener"/> is closed at once: reset as it opens, or closed after.</summary>
    private static async Task<bool> ClosedAtOnceAsync(FlotillaInstance flotilla, string listener)
    {
        try
        {
            using var client = await RawConnection.OpenAsync(flotilla, listener);
            return await client.ClosedAsync(TimeSpan.FromSeconds(10));
        }
        catch (SocketException e) when (e.SocketErrorCode == SocketError.ConnectionReset)
        {
            return true; // the close overtook the connect on loopback
        }
    }

    /// <summary>flotilla_connections and flotilla_connections_limit, from <c>/metrics</c>.</summary>
    private static async Task<(int Open, int Limit)> ConnectionsAsync(FlotillaInstance flotilla) =>
        (await MetricAsync(flotilla, "flotilla_connections"), await MetricAsync(flotilla, "flotilla_connections_limit"));

    /// <summary>The value of a series without labels of its own (every series carries otel_scope_name), from <c>/metrics</c>.</summary>
    private static async Task<int> MetricAsync(FlotillaInstance flotilla, string name)
    {
        var metrics = await flotilla.Http.GetStringAsync(flotilla.Admin.Url + "/metrics", Cancel);
        var match = Regex.Match(metrics, $@"^{name}(?:\{{[^}}]*\}})? (\S+)", RegexOptions.Multiline);
        Assert.True(match.Success, $"no {name} on /metrics");
        return (int)double.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture);
    }
}
