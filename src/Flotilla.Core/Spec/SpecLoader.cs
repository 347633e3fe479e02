using System.Collections.Immutable;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace Flotilla.Core.Spec;

/// <summary>A spec that parsed and validated, with where it came from.</summary>
/// <param name="Spec">The spec.</param>
/// <param name="File">The file name as the user gave it, for messages.</param>
/// <param name="BaseDirectory">The spec file's directory: relative paths in the spec are relative to it.</param>
/// <param name="Lines">The line of every path, for checks made later (preflight, apply).</param>
public sealed record SpecDocument(FlotillaSpec Spec, string File, string BaseDirectory, SourceMap Lines)
{
    public SpecDiagnostic Diagnostic(string path, string message) => new(File, Lines.LineOf(path), path, message);
}

/// <summary>The outcome of loading a spec: a document, or every error found in it.</summary>
public sealed record SpecLoadResult(SpecDocument? Document, ImmutableArray<SpecDiagnostic> Errors)
{
    public bool IsValid => Document is not null && Errors.IsEmpty;
}

/// <summary>Turns spec YAML into an immutable <see cref="FlotillaSpec"/>, or into the full list of what is wrong with it.</summary>
public static class SpecLoader
{
    public static SpecLoadResult Load(string yaml, string file, string baseDirectory)
    {
        YamlNode? root;
        var parser = new Parser(new StringReader(yaml));
        try
        {
            var stream = new YamlStream();
            stream.Load(parser);
            root = stream.Documents.Count == 0 ? null : stream.Documents[0].RootNode;
        }
        catch (YamlException e)
        {
            var message = (e.InnerException?.Message ?? e.Message).Split(" at Line:")[0].TrimEnd('.');
            return new SpecLoadResult(null, [new SpecDiagnostic(file, (int)e.Start.Line, "", $"not valid YAML: {message}")]);
        }
        catch (InvalidOperationException)
        {
            // YamlDotNet reports some unterminated structures this way, without a message; the parser knows where it stopped.
            var line = (int)(parser.Current?.Start.Line ?? 1);
            return new SpecLoadResult(null, [new SpecDiagnostic(file, line, "", "not valid YAML: unexpected end of a list or mapping (a missing ']' or '}'?)")]);
        }

        var fields = new YamlFields();
        var spec = ReadRoot(fields, root);
        var lines = new SourceMap(fields.Lines);
        var readErrors = fields.Errors.Select(e => new SpecDiagnostic(file, e.Line, e.Path, e.Message)).ToList();
        var failedPaths = readErrors.Select(e => e.Path).ToHashSet(StringComparer.Ordinal);
        var checkErrors = SpecValidator.Validate(spec)
            .Where(e => !failedPaths.Contains(e.Path))
            .Select(e => new SpecDiagnostic(file, lines.LineOf(e.Path), e.Path, e.Message));
        var errors = readErrors.Concat(checkErrors).OrderBy(e => e.Line).ThenBy(e => e.Path, StringComparer.Ordinal).ToImmutableArray();
        return errors.IsEmpty
            ? new SpecLoadResult(new SpecDocument(spec, file, baseDirectory, lines), [])
            : new SpecLoadResult(null, errors);
    }

    private static FlotillaSpec ReadRoot(YamlFields fields, YamlNode? root)
    {
        var spec = new FlotillaSpec();
        if (root is null)
        {
            return spec;
        }

        var map = fields.Map(root, "", "admin", "listeners", "services");
        if (map is null)
        {
            return spec;
        }

        return spec with
        {
            Admin = ReadAdmin(fields, map["admin"], map.PathOf("admin")),
            Listeners = fields.Items(map["listeners"], map.PathOf("listeners")).Select(x => ReadListener(fields, x.Item, x.Path)).ToImmutableArray(),
            Services = fields.Entries(map["services"], map.PathOf("services")).Select(x => ReadService(fields, x.Key, x.Value, x.Path)).ToImmutableArray(),
        };
    }

    private static AdminSpec ReadAdmin(YamlFields fields, YamlNode? node, string path)
    {
        var admin = new AdminSpec();
        var map = fields.Map(node, path, "listen");
        return map is null ? admin : admin with { Listen = map.Address("listen") ?? admin.Listen };
    }

    // Required fields left out read as empty values here; SpecValidator reports them, so each gets one error.
    private static ListenerSpec ReadListener(YamlFields fields, YamlNode node, string path)
    {
        var listener = new ListenerSpec { Name = "", Listen = ListenAddress.Missing };
        var map = fields.Map(node, path, "name", "listen", "rules");
        if (map is null)
        {
            return listener;
        }

        return listener with
        {
            Name = map.String("name") ?? "",
            Listen = map.Address("listen") ?? ListenAddress.Missing,
            Rules = fields.Items(map["rules"], map.PathOf("rules")).Select(x => ReadRule(fields, x.Item, x.Path)).ToImmutableArray(),
        };
    }

    private static RuleSpec ReadRule(YamlFields fields, YamlNode node, string path)
    {
        var rule = new RuleSpec { Service = "" };
        var map = fields.Map(node, path, "path", "host", "service");
        if (map is null)
        {
            return rule;
        }

        return rule with
        {
            Path = map.String("path") ?? rule.Path,
            Host = map.String("host"),
            Service = map.String("service") ?? "",
        };
    }

    private static ServiceSpec ReadService(YamlFields fields, string name, YamlNode node, string path)
    {
        var service = new ServiceSpec { Name = name };
        var map = fields.Map(node, path, "command", "env", "workingDirectory", "desired", "loadBalancing", "stopTimeout", "health");
        if (map is null)
        {
            return service;
        }

        return service with
        {
            Command = map.StringList("command") ?? service.Command,
            Env = map.StringMap("env") ?? service.Env,
            WorkingDirectory = map.String("workingDirectory") ?? service.WorkingDirectory,
            Desired = map.Int("desired") ?? service.Desired,
            LoadBalancing = ReadLoadBalancing(fields, map["loadBalancing"], map.PathOf("loadBalancing")),
            StopTimeout = map.Duration("stopTimeout") ?? service.StopTimeout,
            Health = ReadHealth(fields, map["health"], map.PathOf("health")),
        };
    }

    /// <summary><c>loadBalancing: least_requests</c>, or a mapping with the algorithm and its options.</summary>
    private static LoadBalancingSpec ReadLoadBalancing(YamlFields fields, YamlNode? node, string path)
    {
        var spec = new LoadBalancingSpec();
        if (node is YamlScalarNode)
        {
            fields.Alias($"{path}.algorithm", node);
            return fields.String(node, path) is { } algorithm ? spec with { Algorithm = algorithm } : spec;
        }

        var map = fields.Map(node, path, "algorithm", "hashOn", "virtualNodes", "boundedLoad");
        if (map is null)
        {
            return spec;
        }

        return spec with
        {
            Algorithm = map.String("algorithm") ?? spec.Algorithm,
            HashOn = map.String("hashOn") ?? spec.HashOn,
            VirtualNodes = map.Int("virtualNodes") ?? spec.VirtualNodes,
            BoundedLoad = map.Double("boundedLoad"),
        };
    }

    private static HealthCheckSpec ReadHealth(YamlFields fields, YamlNode? node, string path)
    {
        var health = new HealthCheckSpec();
        var map = fields.Map(node, path, "path", "interval", "timeout", "healthyThreshold", "unhealthyThreshold", "gracePeriod");
        if (map is null)
        {
            return health;
        }

        return health with
        {
            Path = map.String("path") ?? health.Path,
            Interval = map.Duration("interval") ?? health.Interval,
            Timeout = map.Duration("timeout") ?? health.Timeout,
            HealthyThreshold = map.Int("healthyThreshold") ?? health.HealthyThreshold,
            UnhealthyThreshold = map.Int("unhealthyThreshold") ?? health.UnhealthyThreshold,
            GracePeriod = map.Duration("gracePeriod") ?? health.GracePeriod,
        };
    }
}
