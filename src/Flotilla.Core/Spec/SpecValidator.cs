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

        CheckRange("accessLog.maxSize", spec.AccessLog.MaxSize, 1_000_000, 1_000_000_000_000, errors);
        CheckRange("accessLog.maxFiles", spec.AccessLog.MaxFiles, 1, 100, errors);
        if (spec.LoadBalancer.MaxConnections is { } maxConnections)
        {
            CheckRange("loadBalancer.maxConnections", maxConnections, 1, 10_000_000, errors);
        }

        CheckRange("loadBalancer.keepAliveTimeout", spec.LoadBalancer.KeepAliveTimeout, TimeSpan.FromSeconds(1), TimeSpan.FromHours(1), errors);
        CheckRange("loadBalancer.requestTimeout", spec.LoadBalancer.RequestTimeout, TimeSpan.FromSeconds(1), TimeSpan.FromMinutes(5), errors);

        var listenerNames = new HashSet<string>(StringComparer.Ordinal);
        var addresses = new Dictionary<string, string>(StringComparer.Ordinal);
        if (spec.Admin.Listen.Port != 0)
        {
            addresses[spec.Admin.Listen.ToString()] = "admin.listen";
        }

        var hasHttpsListener = spec.Listeners.Any(l => l.Protocol == ListenerProtocol.Https);
        for (var i = 0; i < spec.Listeners.Length; i++)
        {
            ValidateListener(spec.Listeners[i], $"listeners[{i}]", serviceNames, listenerNames, addresses, hasHttpsListener, errors);
        }

        return errors;
    }

    private static void ValidateListener(
        ListenerSpec listener,
        string path,
        HashSet<string> services,
        HashSet<string> listenerNames,
        Dictionary<string, string> addresses,
        bool hasHttpsListener,
        List<(string, string)> errors)
    {
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

        if (listener.Protocol == ListenerProtocol.Https)
        {
            if (listener.Tls is null || listener.Tls.Certificates.IsEmpty)
            {
                errors.Add(($"{path}.tls", "an https listener needs tls.certificates, at least one { cert: FILE.pem, key: FILE.pem }"));
            }

            for (var c = 0; c < (listener.Tls?.Certificates.Length ?? 0); c++)
            {
                var certificate = listener.Tls!.Certificates[c];
                CheckRequired($"{path}.tls.certificates[{c}].cert", certificate.Cert, errors);
                CheckRequired($"{path}.tls.certificates[{c}].key", certificate.Key, errors);
            }
        }
        else
        {
            if (listener.Tls is not null)
            {
                errors.Add(($"{path}.tls", "applies only to listeners with protocol: https"));
            }

            if (listener.Http2 == true)
            {
                errors.Add(($"{path}.http2", "HTTP/2 needs protocol: https (as on ALB); on a cleartext port it would shut out HTTP/1.1 clients"));
            }
        }

        if (listener.Redirect is not null)
        {
            if (listener.Redirect != "https")
            {
                errors.Add(($"{path}.redirect", $"the only redirect is https, got '{listener.Redirect}'"));
            }
            else if (listener.Protocol == ListenerProtocol.Https)
            {
                errors.Add(($"{path}.redirect", "an https listener cannot redirect to https"));
            }
            else if (!hasHttpsListener)
            {
                errors.Add(($"{path}.redirect", "redirect: https needs an https listener in the spec to redirect to"));
            }

            if (!listener.Rules.IsEmpty)
            {
                errors.Add(($"{path}.rules", "a listener that redirects every request to https has no rules"));
            }
        }
        else if (listener.Rules.IsEmpty)
        {
            errors.Add(($"{path}.rules", "at least one rule is required"));
        }

        CheckRange($"{path}.maxBodySize", listener.MaxBodySize, 1, 10_000_000_000, errors);
        for (var p = 0; p < listener.TrustedProxies.Length; p++)
        {
            var proxy = listener.TrustedProxies[p];
            if (!System.Net.IPNetwork.TryParse(proxy, out _) && !System.Net.IPAddress.TryParse(proxy, out _))
            {
                errors.Add(($"{path}.trustedProxies[{p}]", $"must be an IP address or a CIDR range such as 10.0.0.0/8, got '{proxy}'"));
            }
        }

        ValidateAction(listener.Default, $"{path}.default", services, errors);
        var priorities = new Dictionary<int, int>();
        for (var r = 0; r < listener.Rules.Length; r++)
        {
            var rule = listener.Rules[r];
            var rulePath = $"{path}.rules[{r}]";
            ValidateRule(rule, rulePath, services, errors);
            if (rule.Priority is { } priority && !priorities.TryAdd(priority, r))
            {
                errors.Add(($"{rulePath}.priority", $"priority {priority} is already used by rules[{priorities[priority]}]; priorities must be unique"));
            }
        }
    }

    private static void ValidateRule(RuleSpec rule, string path, HashSet<string> services, List<(string, string)> errors)
    {
        if (rule.Priority is { } priority)
        {
            CheckRange($"{path}.priority", priority, 1, 50_000, errors);
        }

        var pathOk = rule.Path.Kind == PathMatchKind.Prefix
            ? RulePathPattern().IsMatch(rule.Path.Value)
            : rule.Path.Value.StartsWith('/') && !rule.Path.Value.Any(char.IsWhiteSpace);
        if (!pathOk)
        {
            errors.Add(($"{path}.path", rule.Path.Kind == PathMatchKind.Prefix
                ? $"must start with '/' and hold only URL path characters (no '{{', '}}', '#' or spaces), got '{rule.Path.Value}'"
                : $"must start with '/' and have no spaces, got '{rule.Path.Value}'"));
        }

        if (rule.Host is not null && !HostPattern().IsMatch(rule.Host))
        {
            errors.Add(($"{path}.host", $"must be a host name such as shop.example.com or *.example.com, without a port, got '{rule.Host}'"));
        }

        foreach (var (header, values) in rule.Headers)
        {
            if (!TokenPattern().IsMatch(header))
            {
                errors.Add(($"{path}.headers.{header}", "is not a valid header name"));
            }

            if (values.IsEmpty || values.Any(string.IsNullOrEmpty))
            {
                errors.Add(($"{path}.headers.{header}", "needs at least one non-empty value ('*' for any)"));
            }
        }

        foreach (var method in rule.Methods.Where(m => !TokenPattern().IsMatch(m)))
        {
            errors.Add(($"{path}.methods", $"'{method}' is not an HTTP method"));
        }

        foreach (var (name, _) in rule.Query.Where(q => q.Value.IsEmpty || q.Value.Any(string.IsNullOrEmpty)))
        {
            errors.Add(($"{path}.query.{name}", "needs at least one non-empty value ('*' for any)"));
        }

        if (rule.Timeout is { } timeout)
        {
            CheckRange($"{path}.timeout", timeout, TimeSpan.FromSeconds(1), TimeSpan.FromHours(1), errors);
        }

        ValidateAction(rule.Action, path, services, errors);
    }

    private static void ValidateAction(RuleAction action, string path, HashSet<string> services, List<(string, string)> errors)
    {
        switch (action)
        {
            case ForwardAction { Services.Length: 1 } single when single.Services[0].Weight == 1:
                CheckServiceReference($"{path}.service", single.Services[0].Service, services, errors);
                break;
            case ForwardAction forward:
                if (forward.Services.IsEmpty)
                {
                    errors.Add(($"{path}.forward", "needs at least one { service: NAME, weight: N }"));
                }

                for (var i = 0; i < forward.Services.Length; i++)
                {
                    CheckServiceReference($"{path}.forward[{i}].service", forward.Services[i].Service, services, errors);
                    CheckRange($"{path}.forward[{i}].weight", forward.Services[i].Weight, 0, 1000, errors);
                }

                if (forward.Services.Length > 0 && forward.Services.All(s => s.Weight == 0))
                {
                    errors.Add(($"{path}.forward", "at least one service needs a weight above 0"));
                }

                if (forward.Services.GroupBy(s => s.Service).FirstOrDefault(g => g.Count() > 1) is { } duplicate)
                {
                    errors.Add(($"{path}.forward", $"service '{duplicate.Key}' is listed twice"));
                }

                break;
            case FixedResponseAction fixedResponse:
                CheckRange($"{path}.fixedResponse.status", fixedResponse.Status, 200, 599, errors);
                CheckRange($"{path}.fixedResponse.body", fixedResponse.Body.Length, 0, 65_536, errors);
                if (fixedResponse.Status is 204 or 304 && fixedResponse.Body.Length > 0)
                {
                    errors.Add(($"{path}.fixedResponse.body", $"must be empty with status {fixedResponse.Status}, which has no body"));
                }

                if (!System.Net.Http.Headers.MediaTypeHeaderValue.TryParse(fixedResponse.ContentType, out _) || !System.Text.Ascii.IsValid(fixedResponse.ContentType))
                {
                    errors.Add(($"{path}.fixedResponse.contentType", $"is not a media type, got '{fixedResponse.ContentType}' (e.g. text/plain; charset=utf-8)"));
                }
                break;
            case RedirectAction redirect:
                if (redirect.Status is not (301 or 302 or 303 or 307 or 308))
                {
                    errors.Add(($"{path}.redirect.status", $"must be 301, 302, 303, 307 or 308, got {redirect.Status}"));
                }

                if (redirect.Location.Length == 0)
                {
                    errors.Add(($"{path}.redirect.location", "is required, e.g. https://#{host}#{path}#{query}"));
                }
                else if (RedirectTemplate.Validate(redirect.Location) is { } error)
                {
                    errors.Add(($"{path}.redirect.location", error));
                }

                break;
        }
    }

    private static void CheckServiceReference(string path, string service, HashSet<string> services, List<(string, string)> errors)
    {
        if (service.Length == 0)
        {
            errors.Add((path, "is required"));
        }
        else if (!services.Contains(service))
        {
            errors.Add((path, $"unknown service '{service}'; services: {string.Join(", ", services.Order(StringComparer.Ordinal))}"));
        }
    }

    private static void CheckRequired(string path, string value, List<(string, string)> errors)
    {
        if (value.Length == 0)
        {
            errors.Add((path, "is required"));
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

        ValidateCheck(service.Health, $"{path}.health", errors);
        if (service.Liveness is { } liveness)
        {
            ValidateCheck(liveness, $"{path}.liveness", errors);
        }

        CheckRange($"{path}.slowStart", service.SlowStart, TimeSpan.Zero, TimeSpan.FromMinutes(15), errors);
        CheckRange($"{path}.deregistrationDelay", service.DeregistrationDelay, TimeSpan.Zero, TimeSpan.FromHours(1), errors);
        CheckRange($"{path}.timeout", service.Timeout, TimeSpan.FromSeconds(1), TimeSpan.FromHours(1), errors);
        CheckRange($"{path}.panicThreshold", service.PanicThreshold, 0, 100, errors);
        if (service.Stickiness is { } stickiness)
        {
            if (!TokenPattern().IsMatch(stickiness.Cookie))
            {
                errors.Add(($"{path}.stickiness.cookie", $"is not a valid cookie name, got '{stickiness.Cookie}'"));
            }

            CheckRange($"{path}.stickiness.ttl", stickiness.Ttl, TimeSpan.FromSeconds(1), TimeSpan.FromDays(7), errors);
        }

        ValidateDeployment(service.Deployment, $"{path}.deployment", errors);

        var outliers = service.OutlierDetection;
        CheckRange($"{path}.outlierDetection.consecutive5xx", outliers.Consecutive5xx, 1, 1000, errors);
        CheckRange($"{path}.outlierDetection.baseEjection", outliers.BaseEjection, TimeSpan.FromSeconds(1), TimeSpan.FromHours(1), errors);
        CheckRange($"{path}.outlierDetection.maxEjection", outliers.MaxEjection, outliers.BaseEjection, TimeSpan.FromHours(1), errors);
        CheckRange($"{path}.outlierDetection.maxEjectionPercent", outliers.MaxEjectionPercent, 0, 100, errors);
        ValidateScaling(service, path, errors);
    }

    private static void ValidateCheck(HealthCheckSpec check, string path, List<(string, string)> errors)
    {
        if (check.Type == CheckType.Http && (!check.Path.StartsWith('/') || check.Path.Any(char.IsWhiteSpace)))
        {
            errors.Add(($"{path}.path", $"must be a URL path starting with '/', got '{check.Path}'"));
        }

        CheckRange($"{path}.interval", check.Interval, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(300), errors);
        CheckRange($"{path}.timeout", check.Timeout, TimeSpan.FromMilliseconds(100), TimeSpan.FromSeconds(60), errors);
        if (check.Timeout >= check.Interval && check.Interval >= TimeSpan.FromSeconds(1))
        {
            errors.Add(($"{path}.timeout", $"must be less than interval ({Durations.Format(check.Interval)}), got {Durations.Format(check.Timeout)}"));
        }

        CheckRange($"{path}.healthyThreshold", check.HealthyThreshold, 1, 10, errors);
        CheckRange($"{path}.unhealthyThreshold", check.UnhealthyThreshold, 1, 10, errors);
        CheckRange($"{path}.gracePeriod", check.GracePeriod, TimeSpan.Zero, TimeSpan.FromHours(1), errors);
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

    private static void CheckRange(string path, long value, long min, long max, List<(string, string)> errors)
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

    [GeneratedRegex(@"^[A-Za-z0-9!#$%&'*+\-.^_`|~]+$")]
    private static partial Regex TokenPattern();

    [GeneratedRegex(@"^(header|cookie):[A-Za-z0-9!#$%&'*+\-.^_`|~]+$")]
    private static partial Regex HashOnPattern();

    [GeneratedRegex("^[A-Za-z_][A-Za-z0-9_]*$")]
    private static partial Regex EnvNamePattern();

    [GeneratedRegex(@"^/[A-Za-z0-9\-._~!$&'()+,;=:@%/]*$")]
    private static partial Regex RulePathPattern();

    [GeneratedRegex(@"^(\*\.)?([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$")]
    private static partial Regex HostPattern();
}
