using System.Net.Http.Headers;
using System.Net.Http.Json;
using Flotilla.Api;
using Flotilla.Runtime;
using StateDir = Flotilla.Hosting.StateDirectory;

namespace Flotilla.IntegrationTests.Infrastructure;

/// <summary>
/// A real <c>flotilla up</c> on a spec written into its own temporary directory, with every port dynamic (admin and
/// listeners on port 0, read back from admin.json). Disposing stops Flotilla by PID, then SIGKILLs any task PID it
/// ever reported that is somehow still alive, and removes the directory.
/// </summary>
internal sealed class FlotillaInstance : IAsyncDisposable
{
    public static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(60);

    private readonly HashSet<int> _taskPids = [];

    private FlotillaInstance(string directory, OwnedProcess process, AdminInfo admin)
    {
        Directory = directory;
        Process = process;
        Admin = admin;
        Api = new HttpClient { BaseAddress = new Uri(admin.Url + "/api/v1/"), Timeout = TimeSpan.FromSeconds(30) };
        Api.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", admin.Token);
        Http = new HttpClient { Timeout = TimeSpan.FromSeconds(30) };
    }

    public string Directory { get; }

    public string StateDirectory => Path.Combine(Directory, StateDir.DefaultName);

    public OwnedProcess Process { get; }

    public AdminInfo Admin { get; }

    /// <summary>The admin API under /api/v1, with the bearer token.</summary>
    public HttpClient Api { get; }

    /// <summary>A client with no credentials, for listeners and open endpoints.</summary>
    public HttpClient Http { get; }

    public static string NewDirectory()
    {
        var directory = Path.Combine(Path.GetTempPath(), "flotilla-it-" + Guid.NewGuid().ToString("N")[..12]);
        System.IO.Directory.CreateDirectory(directory);
        return directory;
    }

    /// <summary>Writes <paramref name="spec"/> to flotilla.yaml and runs <c>flotilla up</c> on it until admin.json appears.</summary>
    /// <param name="spec">The spec.</param>
    /// <param name="prepare">Writes whatever else the spec refers to (certificates…) into the directory first.</param>
    /// <param name="openFiles">An open-files limit (RLIMIT_NOFILE, soft and hard) to run Flotilla, and so its tasks, under.</param>
    public static async Task<FlotillaInstance> StartAsync(string spec, Action<string>? prepare = null, int? openFiles = null)
    {
        var directory = NewDirectory();
        prepare?.Invoke(directory);
        await File.WriteAllTextAsync(Path.Combine(directory, "flotilla.yaml"), spec, TestContext.Current.CancellationToken);
        var process = openFiles is { } limit
            ? await OwnedProcess.StartProgramAsync(directory, "prlimit", $"--nofile={limit}:{limit}", "dotnet", Paths.FlotillaDll, "up", "flotilla.yaml")
            : await OwnedProcess.StartAsync(directory, Paths.FlotillaDll, "up", "flotilla.yaml");
        var adminFile = Path.Combine(directory, StateDir.DefaultName, StateDir.AdminFileName);
        try
        {
            await Eventually.Until(
                () => Task.FromResult(process.Exited.IsCompleted || StateDir.ReadAdminInfo(adminFile)?.Pid == process.Pid),
                ready => ready,
                StartTimeout,
                "flotilla up to write admin.json");
            if (process.Exited.IsCompleted)
            {
                throw new InvalidOperationException($"flotilla up exited with code {process.Exited.Result}:\n{process.Output}");
            }
        }
        catch
        {
            await process.DisposeAsync();
            throw;
        }

        return new FlotillaInstance(directory, process, StateDir.ReadAdminInfo(adminFile)!);
    }

    public string Listener(string name = "web") => Admin.Listeners[name];

    public async Task<List<TaskDto>> TasksAsync(string? service = null, string state = "all")
    {
        var query = $"tasks?state={state}" + (service is null ? "" : $"&service={service}");
        var tasks = await Api.GetFromJsonAsync(query, FlotillaJson.Default.ListTaskDto, TestContext.Current.CancellationToken) ?? [];
        lock (_taskPids)
        {
            _taskPids.UnionWith(tasks.Where(t => t.Pid is not null).Select(t => t.Pid!.Value));
        }

        return tasks;
    }

    /// <summary>Lines of the access log so far, parsed.</summary>
    public List<System.Text.Json.JsonElement> AccessLog()
    {
        var file = Path.Combine(StateDirectory, "access.log");
        using var stream = new FileStream(file, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd().Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(line => System.Text.Json.JsonDocument.Parse(line).RootElement.Clone())
            .ToList();
    }

    public async Task<TargetsDto> TargetsAsync(string service) =>
        await Api.GetFromJsonAsync($"services/{service}/targets", FlotillaJson.Default.TargetsDto, TestContext.Current.CancellationToken)
        ?? throw new InvalidOperationException("no targets");

    public async Task<List<EventDto>> EventsAsync() =>
        await Api.GetFromJsonAsync("events", FlotillaJson.Default.ListEventDto, TestContext.Current.CancellationToken) ?? [];

    /// <summary>Waits until exactly <paramref name="count"/> live tasks of the service are running and healthy.</summary>
    public Task<List<TaskDto>> WaitForHealthyAsync(string service, int count, TimeSpan? timeout = null) =>
        Eventually.Until(
            () => TasksAsync(service, "live"),
            tasks => tasks.Count == count && tasks.All(t => t.State == "running" && t.Health == "healthy"),
            timeout ?? StartTimeout,
            $"{count} running, healthy tasks of {service} and no others");

    /// <summary>The task id (X-Task-Id) that answered each of <paramref name="requests"/> GETs of / through the listener.</summary>
    public async Task<List<string>> ServedByAsync(int requests, HttpClient? client = null)
    {
        var served = new List<string>();
        for (var i = 0; i < requests; i++)
        {
            using var response = await (client ?? Http).GetAsync(Listener() + "/", TestContext.Current.CancellationToken);
            served.Add(response.Headers.GetValues("X-Task-Id").Single());
        }

        return served;
    }

    /// <summary>Runs one of the Shop sample's drills (<c>sick</c>, <c>wedge</c>, <c>faulty</c>, <c>recover</c>…) on a task, straight at its port.</summary>
    public async Task DrillAsync(TaskDto task, string drill)
    {
        using var response = await Http.PostAsync($"http://127.0.0.1:{task.Port}/{drill}", null, TestContext.Current.CancellationToken);
        response.EnsureSuccessStatusCode();
    }

    /// <summary>Runs the flotilla CLI against this instance (found through its state directory).</summary>
    public Task<(int ExitCode, string Output)> CliAsync(params string[] args) =>
        OwnedProcess.RunAsync(Directory, TimeSpan.FromSeconds(60), [Paths.FlotillaDll, .. args, "--state-dir", StateDirectory]);

    public async ValueTask DisposeAsync()
    {
        try
        {
            await TasksAsync();
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
        {
            // Flotilla is already gone; the PIDs seen so far are all there is to check.
        }

        await Process.DisposeAsync();
        lock (_taskPids)
        {
            foreach (var pid in _taskPids.Where(ProcessTable.IsAlive))
            {
                PosixSignals.SignalGroup(pid, PosixSignals.SigKill);
            }
        }

        Api.Dispose();
        Http.Dispose();
        try
        {
            System.IO.Directory.Delete(Directory, recursive: true);
        }
        catch (IOException)
        {
            // A task may still be closing its log file; the temp directory is cleaned up with the machine.
        }
    }
}
