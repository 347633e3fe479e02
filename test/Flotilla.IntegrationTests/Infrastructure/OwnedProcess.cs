using System.Diagnostics;
using System.Text;
using Flotilla.Runtime;

namespace Flotilla.IntegrationTests.Infrastructure;

/// <summary>
/// A process a test started and owns: its output is captured, and it is stopped by PID when the test ends, whatever
/// happened. It gets SIGTERM if the test run itself dies (setpriv --pdeathsig, forked from one long-lived thread), so
/// that a crashed test run cannot leave a Flotilla, and with it a fleet, behind.
/// </summary>
internal sealed class OwnedProcess : IAsyncDisposable
{
    private static readonly ProcessSpawner Spawner = new();

    private readonly Process _process;
    private readonly StringBuilder _output = new();
    private readonly TaskCompletionSource<int> _exited = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private OwnedProcess(Process process)
    {
        _process = process;
        Pid = process.Id;
        process.OutputDataReceived += (_, e) => Append(e.Data);
        process.ErrorDataReceived += (_, e) => Append(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        _ = WatchAsync();
    }

    public int Pid { get; }

    public Task<int> Exited => _exited.Task;

    public string Output
    {
        get
        {
            lock (_output)
            {
                return _output.ToString();
            }
        }
    }

    /// <summary>Starts <c>dotnet ARGS</c>.</summary>
    public static Task<OwnedProcess> StartAsync(string workingDirectory, params string[] args) => StartProgramAsync(workingDirectory, "dotnet", args);

    public static async Task<OwnedProcess> StartProgramAsync(string workingDirectory, string program, params string[] args)
    {
        var psi = new ProcessStartInfo("setpriv")
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        foreach (var arg in (string[])["--pdeathsig", "TERM", "--", program, .. args])
        {
            psi.ArgumentList.Add(arg);
        }

        psi.Environment["DOTNET_NOLOGO"] = "1";
        psi.Environment.Remove("FLOTILLA_ADMIN");
        psi.Environment.Remove("FLOTILLA_TOKEN");
        psi.Environment.Remove("FLOTILLA_STATE_DIR");
        return new OwnedProcess(await Spawner.StartAsync(psi));
    }

    /// <summary>Runs to completion (or the timeout, then killed) and returns the exit code with all output.</summary>
    public static Task<(int ExitCode, string Output)> RunAsync(string workingDirectory, TimeSpan timeout, params string[] args) =>
        RunProgramAsync(workingDirectory, timeout, "dotnet", args);

    /// <summary>Runs <c>PROGRAM ARGS</c> to completion (or the timeout, then killed) and returns the exit code with all output.</summary>
    public static async Task<(int ExitCode, string Output)> RunProgramAsync(string workingDirectory, TimeSpan timeout, string program, params string[] args)
    {
        await using var process = await StartProgramAsync(workingDirectory, program, args);
        try
        {
            var code = await process.Exited.WaitAsync(timeout, TestContext.Current.CancellationToken);
            return (code, process.Output);
        }
        catch (TimeoutException)
        {
            throw new TimeoutException($"`{program} {string.Join(' ', args)}` did not finish within {timeout.TotalSeconds:0}s; output so far:\n{process.Output}");
        }
    }

    public StreamWriter StandardInput => _process.StandardInput;

    public void Signal(int signal) => PosixSignals.Signal(Pid, signal);

    public async Task<int?> StopAsync(TimeSpan grace)
    {
        if (!_exited.Task.IsCompleted)
        {
            Signal(PosixSignals.SigTerm);
            try
            {
                return await _exited.Task.WaitAsync(grace);
            }
            catch (TimeoutException)
            {
                Signal(PosixSignals.SigKill);
            }
        }

        return await _exited.Task;
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync(TimeSpan.FromSeconds(20));
        _process.Dispose();
    }

    private void Append(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (_output)
        {
            _output.AppendLine(line);
        }
    }

    private async Task WatchAsync()
    {
        await _process.WaitForExitAsync();
        _exited.TrySetResult(_process.ExitCode);
    }
}
