using System.Runtime.InteropServices;

namespace Flotilla.Runtime;

/// <summary>kill(2), for signalling a task's whole process group, which <see cref="System.Diagnostics.Process"/> cannot do.</summary>
internal static partial class PosixSignals
{
    public const int SigKill = 9;
    public const int SigTerm = 15;

    /// <summary>Signals every process in the group led by <paramref name="pgid"/>; false if none is left.</summary>
    public static bool SignalGroup(int pgid, int signal) => Kill(-pgid, signal) == 0;

    public static bool Signal(int pid, int signal) => Kill(pid, signal) == 0;

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int Kill(int pid, int signal);
}
