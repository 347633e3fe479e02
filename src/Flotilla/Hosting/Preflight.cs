using Flotilla.Core.Spec;
using Flotilla.Proxy.Forwarding;
using Flotilla.Runtime;

namespace Flotilla.Hosting;

/// <summary>
/// Checks of a valid spec against this machine, made before anything starts: a missing program or working directory,
/// or a certificate that will not load, is reported with its line, rather than discovered as a crash loop or a failed bind.
/// </summary>
internal static class Preflight
{
    public static List<SpecDiagnostic> Check(SpecDocument document)
    {
        var errors = new List<SpecDiagnostic>();
        foreach (var service in document.Spec.Services)
        {
            var path = $"services.{service.Name}";
            var workingDirectory = Path.GetFullPath(Path.Combine(document.BaseDirectory, service.WorkingDirectory));
            if (!Directory.Exists(workingDirectory))
            {
                errors.Add(document.Diagnostic($"{path}.workingDirectory", $"directory {workingDirectory} does not exist"));
                continue;
            }

            var program = service.Command[0];
            if (program.Contains('$'))
            {
                continue;
            }

            if (program.Contains('/'))
            {
                var full = Path.GetFullPath(Path.Combine(workingDirectory, program));
                if (!File.Exists(full))
                {
                    errors.Add(document.Diagnostic($"{path}.command[0]", $"{full} does not exist"));
                }
            }
            else if (Executables.FindOnPath(program) is null)
            {
                errors.Add(document.Diagnostic($"{path}.command[0]", $"'{program}' was not found on PATH"));
            }
        }

        for (var l = 0; l < document.Spec.Listeners.Length; l++)
        {
            var certificates = document.Spec.Listeners[l].Tls?.Certificates ?? [];
            for (var c = 0; c < certificates.Length; c++)
            {
                if (Certificates.Check(certificates[c], document.BaseDirectory) is { } problem)
                {
                    errors.Add(document.Diagnostic($"listeners[{l}].tls.certificates[{c}]", $"cannot load the certificate: {problem}"));
                }
            }
        }

        return errors;
    }
}
