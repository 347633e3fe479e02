using System.Text.RegularExpressions;
using Flotilla.Core.LoadBalancing;

namespace Flotilla.Core.Spec;

/// <summary>
/// Every rule a spec must satisfy beyond its shape: ranges, names, references between sections.
/// It reports every broken rule, each with the path it concerns; <see cref="SpecLoader"/> adds the line.
/// </summary>
internal static partial class SpecValidator
{
    private static readonly TimeSpan MaxStopTimeout = TimeSpan.FromSeconds(120);

    public static List<(string Path, string Message)> Validate(FlotillaSpec spec)
    {
        var errors = new List<(string Path, string Message)>();
        var serviceNames = spec.Services.Select(s => s.Name).ToHashSet(StringComparer.Ordinal);

        if (spec.Services.IsEmpty)
        {
            errors.Add(("services", "at least one service is required"));
        }

        for (var i = 0; i < spec.Services.Length; i++)
        {
            ValidateService(spec.Services[i], $"services.{spec.Services[i].Name}", errors);
        }

        var listenerNames = new HashSet<string>(StringComparer.Ordinal);
        var addresses = new Dictionary<string, string>(StringComparer.Ordinal);
        if (spec.Admin.Listen.Port != 0)
        {
            addresses[spec.Admin.Listen.ToString()] = "admin.listen";
        }

        for (var i = 0; i < spec.Listeners.Length; i++)
        {
            var listener = spec.Listeners[i];
            var path = $"listeners[{i}]";
            if (listener.Name.Length == 0)
            {
                errors.Add(($"{path}.name", "is required"));
            }
            else if (!NamePattern().IsMatch(listener.Name))
            {
                errors.Add(($"{path}.name", $"must be lower-case letters, digits and '-', starting with a letter, got '{listener.Name}'"));
            }
            else if (!listenerNames.Add(listener.Name))
            {
                errors.Add(($"{path}.name", $"listener '{listener.Name}' is defined twice"));
            }

            if (listener.Listen == ListenAddress.Missing)
            {
                errors.Add(($"{path}.listen", "is required, e.g. 127.0.0.1:8080"));
            }
            else if (listener.Listen.Port != 0 && !addresses.TryAdd(listener.Listen.ToString(), $"{path}.listen"))
            {
                errors.Add(($"{path}.listen", $"{listener.Listen} is already used by {addresses[listener.Listen.ToString()]}"));
            }

            if (listener.Rules.IsEmpty)
            {
                errors.Add(($"{path}.rules", "at least one rule is required"));
            }

            for (var r = 0; r < listener.Rules.Length; r++)
            {
                ValidateRule(listener.Rules[r], $"{path}.rules[{r}]", serviceNames, errors);
            }
        }

        return errors;
    }

    private static void ValidateRule(RuleSpec rule, string path, HashSet<string> services, List<(string, string)> errors)
    {
        if (rule.Service.Length == 0)
        {
            errors.Add(($"{path}.service", "is required"));
        }
        else if (!services.Contains(rule.Service))
        {
            errors.Add(($"{path}.service", $"unknown service '{rule.Service}'; services: {string.Join(", ", services.Order(StringComparer.Ordinal))}"));
        }

        if (!RulePathPattern().IsMatch(rule.Path))
        {
            errors.Add(($"{path}.path", $"must start with '/' and hold only URL path characters (no '{{', '}}', '?', '#', '*' or spaces), got '{rule.Path}'"));
        }

        if (rule.Host is not null && !HostPattern().IsMatch(rule.Host))
        {
            errors.Add(($"{path}.host", $"must be a host name such as shop.example.com or *.example.com, without a port, got '{rule.Host}'"));
        }
    }

    private static void ValidateService(ServiceSpec service, string path, List<(string, string)> errors)
    {
        if (!NamePattern().IsMatch(service.Name))
        {
            errors.Add((path, $"service names must be lower-case letters, digits and '-', starting with a letter (at most 63), got '{service.Name}'"));
        }

        if (service.Command.IsEmpty)
        {
            errors.Add(($"{path}.command", "is required, e.g. [\"dotnet\", \"app.dll\"]"));
        }

        for (var i = 0; i < service.Command.Length; i++)
        {
            if (service.Command[i].Length == 0 && i == 0)
            {
                errors.Add(($"{path}.command[0]", "the program must not be empty"));
            }

            CheckTemplate(service.Command[i], $"{path}.command[{i}]", errors);
        }

        foreach (var (key, value) in service.Env)
        {
            var envPath = $"{path}.env.{key}";
            if (!EnvNamePattern().IsMatch(key))
            {
                errors.Add((envPath, "environment variable names must be letters, digits and '_', not starting with a digit"));
            }
            else if (key == "PORT" || key.StartsWith("FLOTILLA_", StringComparison.Ordinal))
            {
                errors.Add((envPath, $"{key} is set by Flotilla for each task; use ${{PORT}} in another variable to pass the port under a different name"));
            }

            CheckTemplate(value, envPath, errors);
        }

        if (service.WorkingDirectory.Length == 0)
        {
            errors.Add(($"{path}.workingDirectory", "must not be empty (leave it out for the spec file's directory)"));
        }

        CheckRange($"{path}.desired", service.Desired, 0, ServiceSpec.MaxDesired, errors);

        ValidateLoadBalancing(service.LoadBalancing, $"{path}.loadBalancing", errors);

        CheckRange($"{path}.stopTimeout", service.StopTimeout, TimeSpan.Zero, MaxStopTimeout, errors);

        var health = service.Health;
        var healthPath = $"{path}.health";
        if (!health.Path.StartsWith('/') || health.Path.Any(char.IsWhiteSpace))
        {
            errors.Add(($"{healthPath}.path", $"must be a URL path starting with '/', got '{health.Path}'"));
        }

        CheckRange($"{healthPath}.interval", health.Interval, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(300), errors);
        CheckRange($"{healthPath}.timeout", health.Timeout, TimeSpan.FromMilliseconds(100), TimeSpan.FromSeconds(60), errors);
        if (health.Timeout >= health.Interval && health.Interval >= TimeSpan.FromSeconds(1))
        {
            errors.Add(($"{healthPath}.timeout", $"must be less than interval ({Durations.Format(health.Interval)}), got {Durations.Format(health.Timeout)}"));
        }

        CheckRange($"{healthPath}.healthyThreshold", health.HealthyThreshold, 1, 10, errors);
        CheckRange($"{healthPath}.unhealthyThreshold", health.UnhealthyThreshold, 1, 10, errors);
        CheckRange($"{healthPath}.gracePeriod", health.GracePeriod, TimeSpan.Zero, TimeSpan.FromHours(1), errors);
    }

    private static void ValidateLoadBalancing(LoadBalancingSpec lb, string path, List<(string, string)> errors)
    {
        if (!LoadBalancingNames.All.Contains(lb.Algorithm))
        {
            errors.Add(($"{path}.algorithm", $"unknown algorithm '{lb.Algorithm}'; valid: {string.Join(", ", LoadBalancingNames.All)}"));
        }

        if (lb.HashOn != LoadBalancingSpec.HashOnClientIp && !HashOnPattern().IsMatch(lb.HashOn))
        {
            errors.Add(($"{path}.hashOn", $"must be client_ip, header:NAME or cookie:NAME, got '{lb.HashOn}'"));
        }

        CheckRange($"{path}.virtualNodes", lb.VirtualNodes, 1, 1000, errors);
        if (lb.BoundedLoad is < 1.01 or > 10)
        {
            errors.Add(($"{path}.boundedLoad", $"must be between 1.01 and 10, got {lb.BoundedLoad}"));
        }

        var defaults = new LoadBalancingSpec();
        var hashOptions = lb.HashOn != defaults.HashOn || lb.VirtualNodes != defaults.VirtualNodes || lb.BoundedLoad is not null;
        if (hashOptions && lb.Algorithm != LoadBalancingNames.ConsistentHash && LoadBalancingNames.All.Contains(lb.Algorithm))
        {
            errors.Add((path, $"hashOn, virtualNodes and boundedLoad apply only to consistent_hash, not {lb.Algorithm}"));
        }
    }

    private static void CheckTemplate(string template, string path, List<(string, string)> errors)
    {
        if (Substitution.Validate(template) is { } error)
        {
            errors.Add((path, error));
        }
    }

    private static void CheckRange(string path, int value, int min, int max, List<(string, string)> errors)
    {
        if (value < min || value > max)
        {
            errors.Add((path, $"must be between {min} and {max}, got {value}"));
        }
    }

    private static void CheckRange(string path, TimeSpan value, TimeSpan min, TimeSpan max, List<(string, string)> errors)
    {
        if (value < min || value > max)
        {
            errors.Add((path, $"must be between {Durations.Format(min)} and {Durations.Format(max)}, got {Durations.Format(value)}"));
        }
    }

    [GeneratedRegex("^[a-z][a-z0-9-]{0,62}$")]
    private static partial Regex NamePattern();

    [GeneratedRegex(@"^(header|cookie):[A-Za-z0-9!#$%&'*+\-.^_`|~]+$")]
    private static partial Regex HashOnPattern();

    [GeneratedRegex("^[A-Za-z_][A-Za-z0-9_]*$")]
    private static partial Regex EnvNamePattern();

    [GeneratedRegex(@"^/[A-Za-z0-9\-._~!$&'()+,;=:@%/]*$")]
    private static partial Regex RulePathPattern();

    [GeneratedRegex(@"^(\*\.)?([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$")]
    private static partial Regex HostPattern();
}
