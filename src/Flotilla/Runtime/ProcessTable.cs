namespace Flotilla.Runtime;

/// <summary>What /proc says about a PID.</summary>
internal static class ProcessTable
{
    /// <summary>
    /// True while the process runs. A zombie counts as dead: it has exited and only waits for its parent (or, once
    /// orphaned, init) to collect its status. The state letter follows the parenthesised command name in /proc/PID/stat.
    /// </summary>
    public static bool IsAlive(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            return stat[(stat.LastIndexOf(')') + 2)..].FirstOrDefault() is not ('Z' or 'X');
        }
        catch (IOException)
        {
            return false;
        }
    }
}
