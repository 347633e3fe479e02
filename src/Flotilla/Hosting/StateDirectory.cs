using System.Text.Json;
using Flotilla.Api;
using Flotilla.Runtime;

namespace Flotilla.Hosting;

/// <summary>
/// Where a running Flotilla keeps its files: <c>admin.json</c> (how to reach and authenticate to it), <c>events.jsonl</c>
/// and each task's log under <c>logs/</c>. Default: <c>.flotilla/</c> beside the spec.
/// </summary>
internal sealed class StateDirectory(string path)
{
    public const string DefaultName = ".flotilla";
    public const string AdminFileName = "admin.json";

    private const UnixFileMode OwnerOnlyDirectory = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;
    private const UnixFileMode OwnerOnlyFile = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    public string Path { get; } = System.IO.Path.GetFullPath(path);

    public string AdminFile => System.IO.Path.Combine(Path, AdminFileName);

    public string EventsFile => System.IO.Path.Combine(Path, "events.jsonl");

    public string LogsDirectory => System.IO.Path.Combine(Path, "logs");

    public static string DefaultFor(string specFile) =>
        System.IO.Path.Combine(System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(specFile))!, DefaultName);

    public string TaskLogFile(string taskId) => System.IO.Path.Combine(LogsDirectory, taskId + ".log");

    /// <summary>
    /// Creates the directory (owner-only) and keeps the previous run's task logs as <c>logs.previous/</c> — after a crash
    /// they are what someone will want to read — while this run starts an empty <c>logs/</c>.
    /// </summary>
    public void Prepare()
    {
        Directory.CreateDirectory(Path, OwnerOnlyDirectory);
        var previous = System.IO.Path.Combine(Path, "logs.previous");
        if (Directory.Exists(LogsDirectory))
        {
            if (Directory.Exists(previous))
            {
                Directory.Delete(previous, recursive: true);
            }

            Directory.Move(LogsDirectory, previous);
        }

        Directory.CreateDirectory(LogsDirectory, OwnerOnlyDirectory);
    }

    /// <summary>The instance already running on this state directory, if its admin.json names a live process.</summary>
    public AdminInfo? FindRunningInstance()
    {
        var info = ReadAdminInfo(AdminFile);
        return info is not null && info.Pid != Environment.ProcessId && ProcessTable.IsAlive(info.Pid) ? info : null;
    }

    /// <summary>Writes admin.json readable by the owner only, from the first byte (it holds the token), and atomically.</summary>
    public void WriteAdminInfo(AdminInfo info)
    {
        var temp = AdminFile + ".tmp";
        using (var stream = new FileStream(temp, new FileStreamOptions { Mode = FileMode.Create, Access = FileAccess.Write, UnixCreateMode = OwnerOnlyFile }))
        {
            JsonSerializer.Serialize(stream, info, FlotillaJson.Default.AdminInfo);
        }

        File.SetUnixFileMode(temp, OwnerOnlyFile);
        File.Move(temp, AdminFile, overwrite: true);
    }

    public void DeleteAdminInfo()
    {
        if (ReadAdminInfo(AdminFile)?.Pid == Environment.ProcessId)
        {
            File.Delete(AdminFile);
        }
    }

    public static AdminInfo? ReadAdminInfo(string file)
    {
        try
        {
            using var stream = File.OpenRead(file);
            return JsonSerializer.Deserialize(stream, FlotillaJson.Default.AdminInfo);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or JsonException)
        {
            return null;
        }
    }
}
