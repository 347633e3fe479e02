using System.Collections.Concurrent;
using System.Diagnostics;

namespace Flotilla.Runtime;

/// <summary>
/// Starts every process from one dedicated thread. PR_SET_PDEATHSIG fires when the <em>thread</em> that forked the
/// child exits, not the process: a task forked from a thread-pool thread would be SIGKILLed whenever the pool
/// retires that thread. This thread lives as long as Flotilla.
/// </summary>
internal sealed class ProcessSpawner : IDisposable
{
    private readonly BlockingCollection<(ProcessStartInfo Info, TaskCompletionSource<Process> Started)> _queue = [];

    public ProcessSpawner()
    {
        var thread = new Thread(Run) { IsBackground = true, Name = "flotilla-spawner" };
        thread.Start();
    }

    public Task<Process> StartAsync(ProcessStartInfo info)
    {
        var started = new TaskCompletionSource<Process>(TaskCreationOptions.RunContinuationsAsynchronously);
        _queue.Add((info, started));
        return started.Task;
    }

    public void Dispose() => _queue.CompleteAdding();

    private void Run()
    {
        foreach (var (info, started) in _queue.GetConsumingEnumerable())
        {
            try
            {
                started.SetResult(Process.Start(info) ?? throw new InvalidOperationException($"{info.FileName} did not start"));
            }
            catch (Exception e)
            {
                started.SetException(e);
            }
        }

        // Parked rather than returned: ending this thread would SIGKILL every task it started.
        Thread.Sleep(Timeout.Infinite);
    }
}
