using System.Collections;
using System.Collections.Immutable;
using System.Globalization;
using Flotilla.Core.Fleet;
using Flotilla.Core.Spec;

namespace Flotilla.Runtime;

/// <summary>
/// Makes tasks real. One driver runs tasks as local processes (<see cref="ProcessTaskDriver"/>); a container driver
/// would be another implementation of the same contract.
/// </summary>
internal interface ITaskDriver
{
    string Name { get; }

    /// <summary>Starts the task; throws when it cannot (the message becomes the stopped reason).</summary>
    Task<ITaskHandle> StartAsync(TaskLaunch launch, CancellationToken cancellationToken);
}

/// <summary>A started task.</summary>
internal interface ITaskHandle
{
    int Pid { get; }

    /// <summary>Completes with the exit code when the task ends (above 128: killed by signal code − 128).</summary>
    Task<int> Exited { get; }

    /// <summary>SIGTERM, then SIGKILL if it is still alive after <paramref name="stopTimeout"/>. Completes once it has exited.</summary>
    Task StopAsync(TimeSpan stopTimeout);

    /// <summary>SIGKILL now, for shutdowns that ran out of time.</summary>
    void Kill();
}

/// <summary>Everything a driver needs to start one task, with variables already substituted.</summary>
internal sealed record TaskLaunch(
    string TaskId,
    ImmutableArray<string> Command,
    ImmutableDictionary<string, string> Environment,
    string WorkingDirectory,
    string LogFile)
{
    /// <summary>Variables of Flotilla's own environment that a task must not see.</summary>
    private static readonly string[] Withheld = ["FLOTILLA_TOKEN", "FLOTILLA_ADMIN", "FLOTILLA_STATE_DIR"];

    /// <summary>
    /// The launch of <paramref name="task"/>: <c>${PORT}</c>, <c>${TASK_ID}</c> and <c>${SERVICE}</c> substituted in the
    /// command and env; Flotilla's environment inherited (a laptop fleet needs PATH, HOME, DOTNET_ROOT…) minus its own secrets.
    /// </summary>
    public static TaskLaunch For(ServiceSpec service, TaskRecord task, string specDirectory, string logFile)
    {
        var port = task.Port.ToString(CultureInfo.InvariantCulture);
        var variables = new Dictionary<string, string>
        {
            [Substitution.Port] = port,
            [Substitution.TaskId] = task.Id,
            [Substitution.Service] = task.Service,
        };

        var env = System.Environment.GetEnvironmentVariables()
            .Cast<DictionaryEntry>()
            .Select(e => (Key: (string)e.Key, Value: (string?)e.Value ?? ""))
            .Where(e => !Withheld.Contains(e.Key))
            .ToDictionary(e => e.Key, e => e.Value, StringComparer.Ordinal);
        foreach (var (key, value) in service.Env)
        {
            env[key] = Substitution.Apply(value, variables);
        }

        env["PORT"] = port;
        env["FLOTILLA_TASK_ID"] = task.Id;
        env["FLOTILLA_SERVICE"] = task.Service;
        env["FLOTILLA_REVISION"] = task.Revision.ToString(CultureInfo.InvariantCulture);

        return new TaskLaunch(
            task.Id,
            service.Command.Select(arg => Substitution.Apply(arg, variables)).ToImmutableArray(),
            env.ToImmutableDictionary(StringComparer.Ordinal),
            Path.GetFullPath(Path.Combine(specDirectory, service.WorkingDirectory)),
            logFile);
    }
}
