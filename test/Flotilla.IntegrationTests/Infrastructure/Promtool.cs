namespace Flotilla.IntegrationTests.Infrastructure;

/// <summary>Prometheus' own checker of the exposition format, from Debian's prometheus package (test.sh installs it).</summary>
internal static class Promtool
{
    public static async Task<(int ExitCode, string Output)> CheckMetricsAsync(string metrics)
    {
        if (Runtime.Executables.FindOnPath("promtool") is null)
        {
            throw new InvalidOperationException("promtool is not installed: run ./test.sh, which installs Debian's prometheus package, or apt-get install prometheus");
        }

        await using var promtool = await OwnedProcess.StartProgramAsync(Path.GetTempPath(), "promtool", "check", "metrics");
        await promtool.StandardInput.WriteAsync(metrics);
        promtool.StandardInput.Close();
        var code = await promtool.Exited.WaitAsync(TimeSpan.FromSeconds(30), TestContext.Current.CancellationToken);
        return (code, promtool.Output);
    }
}
