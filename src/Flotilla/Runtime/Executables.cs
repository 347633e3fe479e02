namespace Flotilla.Runtime;

internal static class Executables
{
    /// <summary>The full path of <paramref name="program"/> on PATH, as a shell's exec would find it; null if absent.</summary>
    public static string? FindOnPath(string program) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "/usr/local/bin:/usr/bin:/bin")
            .Split(':', StringSplitOptions.RemoveEmptyEntries)
            .Select(dir => Path.Combine(dir, program))
            .FirstOrDefault(File.Exists);
}
