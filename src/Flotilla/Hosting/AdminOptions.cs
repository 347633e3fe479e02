using Flotilla.Core.Spec;
using Microsoft.Extensions.Options;

namespace Flotilla.Hosting;

/// <summary>Settings of the Flotilla process itself, as opposed to the fleet it runs.</summary>
internal sealed class AdminOptions
{
    /// <summary>Where the admin API listens; from the spec's <c>admin.listen</c>.</summary>
    public ListenAddress Listen { get; set; } = new AdminSpec().Listen;

    /// <summary>The state directory; <c>--state-dir</c>, else <c>.flotilla/</c> beside the spec.</summary>
    public string StateDirectory { get; set; } = "";
}

/// <summary>Checked when the host starts, before anything listens or runs.</summary>
internal sealed class AdminOptionsValidator : IValidateOptions<AdminOptions>
{
    public ValidateOptionsResult Validate(string? name, AdminOptions options)
    {
        var failures = new List<string>();
        if (options.Listen == ListenAddress.Missing)
        {
            failures.Add("admin.listen is required");
        }

        if (!Path.IsPathFullyQualified(options.StateDirectory))
        {
            failures.Add($"the state directory must be an absolute path, got '{options.StateDirectory}'");
        }
        else
        {
            var probe = Path.Combine(options.StateDirectory, $".probe-{Environment.ProcessId}");
            try
            {
                File.WriteAllText(probe, "");
                File.Delete(probe);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                failures.Add($"the state directory {options.StateDirectory} is not writable: {e.Message}");
            }
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
