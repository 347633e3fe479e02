using System.Net;
using System.Net.Sockets;
using Flotilla.IntegrationTests.Infrastructure;
using Flotilla.Runtime;

namespace Flotilla.IntegrationTests;

public sealed class LifecycleTests
{
    /// <summary>A task that ignores SIGTERM: it must be SIGKILLed after its stopTimeout.</summary>
    private const string Stubborn = """
          stubborn:
            command: ["sh", "-c", "trap '' TERM; while true; do sleep 0.2; done"]
            desired: 1
            stopTimeout: 1s
            health: { gracePeriod: 1h }
        """;

    /// <summary>Two healthy shop tasks and one that ignores SIGTERM, all running.</summary>
    private static async Task<(FlotillaInstance Flotilla, List<Api.TaskDto> Tasks)> StartWithStubbornTaskAsync()
    {
        var flotilla = await FlotillaInstance.StartAsync(Specs.Fleet(Specs.Web("shop"), Specs.Shop("shop", 2), Stubborn));
        try
        {
            await flotilla.WaitForHealthyAsync("shop", 2);
            var tasks = await Eventually.Until(
                () => flotilla.TasksAsync(state: "running"),
                t => t.Count == 3,
                TimeSpan.FromSeconds(30),
                "two shop tasks and the stubborn one running");
            return (flotilla, tasks);
        }
        catch
        {
            await flotilla.DisposeAsync();
            throw;
        }
    }

    [Fact(Timeout = 120_000)]
    public async Task Up_InvalidSpec_ExitsWithTwoAndPrintsEveryErrorWithItsLine_StartingNothing()
    {
        var directory = FlotillaInstance.NewDirectory();
        await File.WriteAllTextAsync(Path.Combine(directory, "bad.yaml"), """
            admin:
              listen: 127.0.0.1:0
            services:
              shop:
                command: ["dotnet", "Shop.dll"]
                desired: 3
                health:
                  interval: 0s
              orders:
                command: ["dotnet", "Orders.dll"]
                loadBalancing: fastest
            """, TestContext.Current.CancellationToken);

        var (code, output) = await OwnedProcess.RunAsync(directory, TimeSpan.FromSeconds(60), Paths.FlotillaDll, "up", "bad.yaml");

        Assert.Equal(2, code);
        Assert.Contains("bad.yaml:8 services.shop.health.interval: must be between 1s and 5m, got 0s", output);
        Assert.Contains("bad.yaml:11 services.orders.loadBalancing.algorithm: unknown algorithm 'fastest'; valid: round_robin, weighted_round_robin, least_requests, power_of_two, random, ip_hash, consistent_hash, least_response_time", output);
        Assert.False(Directory.Exists(Path.Combine(directory, ".flotilla")), "no state directory for a spec that never ran");
        Directory.Delete(directory, recursive: true);
    }

    [Fact(Timeout = 120_000)]
    public async Task Up_ProgramMissing_ExitsWithTwoNamingTheCommand()
    {
        var directory = FlotillaInstance.NewDirectory();
        await File.WriteAllTextAsync(
            Path.Combine(directory, "flotilla.yaml"),
            "services:\n  shop:\n    command: [\"no-such-program-xyz\"]\n",
            TestContext.Current.CancellationToken);

        var (code, output) = await OwnedProcess.RunAsync(directory, TimeSpan.FromSeconds(60), Paths.FlotillaDll, "up", "flotilla.yaml");

        Assert.Equal(2, code);
        Assert.Contains("flotilla.yaml:3 services.shop.command[0]: 'no-such-program-xyz' was not found on PATH", output);
        Directory.Delete(directory, recursive: true);
    }

    [Theory(Timeout = 120_000)]
    [InlineData("listener web")]
    [InlineData("admin API")]
    public async Task Up_PortInUse_SaysWhichInOneLine_AndExitsWithOneBeforeStartingAnyTask(string taker)
    {
        using var squatter = new TcpListener(IPAddress.Loopback, 0);
        squatter.Start();
        var port = ((IPEndPoint)squatter.LocalEndpoint).Port;
        var directory = FlotillaInstance.NewDirectory();
        var web = Specs.Web("shop");
        var spec = taker == "admin API"
            ? Specs.Fleet(web, Specs.Shop("shop", 2)).Replace(Specs.Admin, $"admin: {{ listen: 127.0.0.1:{port} }}", StringComparison.Ordinal)
            : Specs.Fleet(web.Replace("127.0.0.1:0", $"127.0.0.1:{port}", StringComparison.Ordinal), Specs.Shop("shop", 2));
        await File.WriteAllTextAsync(Path.Combine(directory, "flotilla.yaml"), spec, TestContext.Current.CancellationToken);

        var (code, output) = await OwnedProcess.RunAsync(directory, TimeSpan.FromSeconds(60), Paths.FlotillaDll, "up", "flotilla.yaml");

        Assert.Equal(1, code);
        Assert.Contains($"flotilla could not start: {taker}: cannot listen on 127.0.0.1:{port}: address already in use", output);
        Assert.DoesNotContain("   at ", output); // no stack trace
        Assert.DoesNotContain("crit:", output);
        Assert.Empty(Directory.GetFiles(Path.Combine(directory, ".flotilla", "logs")));
        Directory.Delete(directory, recursive: true);
    }

    [Fact(Timeout = 180_000)]
    public async Task Sigterm_StopsEveryTaskInOrderAndExitsZero()
    {
        var (flotilla, tasks) = await StartWithStubbornTaskAsync();
        await using var _ = flotilla;

        var (second, secondOutput) = await OwnedProcess.RunAsync(flotilla.Directory, TimeSpan.FromSeconds(60), Paths.FlotillaDll, "up", "flotilla.yaml");
        Assert.Equal(1, second);
        Assert.Contains($"another Flotilla (pid {flotilla.Process.Pid}", secondOutput);

        flotilla.Process.Signal(PosixSignals.SigTerm);
        var code = await flotilla.Process.Exited.WaitAsync(TimeSpan.FromSeconds(60), TestContext.Current.CancellationToken);

        Assert.Equal(0, code);
        Assert.All(tasks, t => Assert.False(ProcessTable.IsAlive(t.Pid!.Value), $"{t.Id} (pid {t.Pid}) still alive"));
        Assert.Contains("stopping 3 tasks", flotilla.Process.Output);
        Assert.Contains("all tasks stopped", flotilla.Process.Output);
        Assert.False(File.Exists(Path.Combine(flotilla.StateDirectory, "admin.json")), "admin.json removed on a clean exit");
    }

    [Fact(Timeout = 180_000)]
    public async Task Sigkill_OfFlotilla_LeavesNoTaskAlive()
    {
        var (flotilla, tasks) = await StartWithStubbornTaskAsync();
        await using var _ = flotilla;

        flotilla.Process.Signal(PosixSignals.SigKill);
        await flotilla.Process.Exited.WaitAsync(TimeSpan.FromSeconds(30), TestContext.Current.CancellationToken);

        await Eventually.Until(
            () => tasks.All(t => !ProcessTable.IsAlive(t.Pid!.Value)),
            TimeSpan.FromSeconds(10),
            "every task process to die with Flotilla: " + string.Join(", ", tasks.Select(t => $"{t.Id}={t.Pid}")));
    }
}
