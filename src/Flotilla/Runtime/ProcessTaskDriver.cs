using System.Diagnostics;

namespace Flotilla.Runtime;

/// <summary>
/// Runs each task as a local process, in its own session and process group, with its output appended to its log file.
/// </summary>
/// <remarks>
/// Each task is started as
/// <c>setpriv --pdeathsig KILL -- setsid -- /bin/sh -c 'exec "$@" &gt;&gt;LOG 2&gt;&amp;1' COMMAND...</c>; every step
/// exec()s the next, so the PID we get is the task's own:
/// <list type="bullet">
/// <item><c>setpriv --pdeathsig KILL</c>: the kernel SIGKILLs the task when Flotilla dies, even by SIGKILL.</item>
/// <item><c>setsid</c>: a process group of its own, so that a terminal's Ctrl-C reaches only Flotilla (which then stops
/// tasks in order), and so that a stop signals the task's children too.</item>
/// <item><c>sh -c exec</c>: the output goes straight to the file, with no pipe through Flotilla that could fill up or
/// break, and stdin is /dev/null.</item>
/// </list>
/// setpriv and setsid come with util-linux. Without them tasks still run, but could outlive a SIGKILLed Flotilla;
/// the driver says so once at start.
/// </remarks>
internal sealed partial class ProcessTaskDriver : ITaskDriver, IDisposable
{
    private readonly ProcessSpawner _spawner = new();
    private readonly ILogger<ProcessTaskDriver> _logger;
    private readonly string? _setpriv = Executables.FindOnPath("setpriv");
    private readonly string? _setsid = Executables.FindOnPath("setsid");

    public ProcessTaskDriver(ILogger<ProcessTaskDriver> logger)
    {
        _logger = logger;
        if (_setpriv is null || _setsid is null)
        {
            LogMissingTools(_logger);
        }
    }

    public string Name => "process";

    public async Task<ITaskHandle> StartAsync(TaskLaunch launch, CancellationToken cancellationToken)
    {
        var psi = new ProcessStartInfo { UseShellExecute = false, WorkingDirectory = launch.WorkingDirectory };
        if (_setpriv is not null)
        {
            psi.FileName = _setpriv;
            foreach (var arg in (string[])["--pdeathsig", "KILL", "--"])
            {
                psi.ArgumentList.Add(arg);
            }
        }

        if (_setsid is not null)
        {
            Append(psi, _setsid);
            psi.ArgumentList.Add("--");
        }

        Append(psi, "/bin/sh");
        psi.ArgumentList.Add("-c");
        psi.ArgumentList.Add("log=$1; shift; exec \"$@\" </dev/null >>\"$log\" 2>&1");
        psi.ArgumentList.Add("flotilla-task");
        psi.ArgumentList.Add(launch.LogFile);
        foreach (var arg in launch.Command)
        {
            psi.ArgumentList.Add(arg);
        }

        psi.Environment.Clear();
        foreach (var (key, value) in launch.Environment)
        {
            psi.Environment[key] = value;
        }

        var process = await _spawner.StartAsync(psi).WaitAsync(cancellationToken);
        return new ProcessHandle(process, ownGroup: _setsid is not null);
    }

    public void Dispose() => _spawner.Dispose();

    private static void Append(ProcessStartInfo psi, string program)
    {
        if (string.IsNullOrEmpty(psi.FileName))
        {
            psi.FileName = program;
        }
        else
        {
            psi.ArgumentList.Add(program);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "setpriv or setsid (util-linux) not found: tasks will run, but may outlive Flotilla if it is killed with SIGKILL")]
    private static partial void LogMissingTools(ILogger logger);

    private sealed class ProcessHandle : ITaskHandle
    {
        private readonly Process _process;
        private readonly bool _ownGroup;

        public ProcessHandle(Process process, bool ownGroup)
        {
            _process = process;
            _ownGroup = ownGroup;
            Pid = process.Id;
            Exited = WaitForExitAsync();
        }

        public int Pid { get; }

        public Task<int> Exited { get; }

        public async Task StopAsync(TimeSpan stopTimeout)
        {
            Signal(PosixSignals.SigTerm);
            try
            {
                await Exited.WaitAsync(stopTimeout);
            }
            catch (TimeoutException)
            {
                Kill();
                await Exited;
            }
        }

        public void Kill() => Signal(PosixSignals.SigKill);

        private void Signal(int signal)
        {
            if (!Exited.IsCompleted)
            {
                _ = _ownGroup ? PosixSignals.SignalGroup(Pid, signal) : PosixSignals.Signal(Pid, signal);
            }
        }

        private async Task<int> WaitForExitAsync()
        {
            await _process.WaitForExitAsync();
            var code = _process.ExitCode;
            _process.Dispose();

            // Like a container runtime: when the task's main process ends, whatever it left behind in its group goes too.
            if (_ownGroup)
            {
                PosixSignals.SignalGroup(Pid, PosixSignals.SigKill);
            }

            return code;
        }
    }
}
