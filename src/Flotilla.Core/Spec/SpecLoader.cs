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
    /// <summary>
    /// The spec with every service's working directory made absolute against <see cref="BaseDirectory"/>: what the fleet
    /// runs, so that a spec applied from another directory means the same as one started from its own.
    /// </summary>
    public FlotillaSpec Resolved => Spec with
    {
        Services = Spec.Services.Select(s => s with { WorkingDirectory = System.IO.Path.GetFullPath(System.IO.Path.Combine(BaseDirectory, s.WorkingDirectory)) }).ToImmutableArray(),
    };

    public SpecDiagnostic Diagnostic(string path, string message) => new(File, Lines.LineOf(path), path, message);
}

/// <summary>The outcome of loading a spec: a document, or every error found in it.</summary>
public sealed record SpecLoadResult(SpecDocument? Document, ImmutableArray<SpecDiagnostic> Errors)
{
    public bool IsValid => Document is not null && Errors.IsEmpty;

    /// <summary>What is legal but probably unwise, each message starting with <c>warning:</c>; the spec runs regardless.</summary>
    public ImmutableArray<SpecDiagnostic> Warnings { get; init; } = [];
}

/// <summary>Turns spec YAML into an immutable <see cref="FlotillaSpec"/>, or into the full list of what is wrong with it.</summary>
public static partial class SpecLoader
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
        // A field the reader could not read was left at a stand-in value: checks of it, or of anything under it, would only
        // repeat the reader's error in other words.
        var failedPaths = readErrors.Select(e => e.Path).ToList();
        var checkErrors = SpecValidator.Validate(spec)
            .Where(e => !failedPaths.Any(f => e.Path == f || (e.Path.StartsWith(f, StringComparison.Ordinal) && e.Path.Length > f.Length && e.Path[f.Length] is '.' or '[')))
            .Select(e => new SpecDiagnostic(file, lines.LineOf(e.Path), e.Path, e.Message));
        var errors = readErrors.Concat(checkErrors).OrderBy(e => e.Line).ThenBy(e => e.Path, StringComparer.Ordinal).ToImmutableArray();
        var warnings = SpecValidator.Warnings(spec).Select(w => new SpecDiagnostic(file, lines.LineOf(w.Path), w.Path, $"warning: {w.Message}")).ToImmutableArray();
        return errors.IsEmpty
            ? new SpecLoadResult(new SpecDocument(spec, file, baseDirectory, lines), []) { Warnings = warnings }
            : new SpecLoadResult(null, errors) { Warnings = warnings };
    }

    /// <summary>The checks <see cref="Load"/> makes, for a spec built in code (a deploy's changed service): every error with its path.</summary>
    public static IReadOnlyList<(string Path, string Message)> Check(FlotillaSpec spec) => SpecValidator.Validate(spec);

    private static FlotillaSpec ReadRoot(YamlFields fields, YamlNode? root)
    {
        var spec = new FlotillaSpec();
        if (root is null)
        {
            return spec;
        }

        var map = fields.Map(root, "", "admin", "listeners", "services", "accessLog", "loadBalancer");
        if (map is null)
        {
            return spec;
        }

        return spec with
        {
            Admin = ReadAdmin(fields, map["admin"], map.PathOf("admin")),
            Listeners = fields.Items(map["listeners"], map.PathOf("listeners")).Select(x => ReadListener(fields, x.Item, x.Path)).ToImmutableArray(),
            Services = fields.Entries(map["services"], map.PathOf("services")).Select(x => ReadService(fields, x.Key, x.Value, x.Path)).ToImmutableArray(),
            AccessLog = ReadAccessLog(fields, map["accessLog"], map.PathOf("accessLog")),
            LoadBalancer = ReadLoadBalancer(fields, map["loadBalancer"], map.PathOf("loadBalancer")),
        };
    }

    private static LoadBalancerSpec ReadLoadBalancer(YamlFields fields, YamlNode? node, string path)
    {
        var loadBalancer = new LoadBalancerSpec();
        var map = fields.Map(node, path, "maxConnections", "keepAliveTimeout", "requestTimeout");
        return map is null ? loadBalancer : loadBalancer with
        {
            MaxConnections = map.Int("maxConnections"),
            KeepAliveTimeout = map.Duration("keepAliveTimeout") ?? loadBalancer.KeepAliveTimeout,
            RequestTimeout = map.Duration("requestTimeout") ?? loadBalancer.RequestTimeout,
        };
    }

    private static AccessLogSpec ReadAccessLog(YamlFields fields, YamlNode? node, string path)
    {
        var log = new AccessLogSpec();
        var map = fields.Map(node, path, "enabled", "stdout", "maxSize", "maxFiles");
        return map is null ? log : log with
        {
            Enabled = map.Bool("enabled") ?? log.Enabled,
            Stdout = map.Bool("stdout") ?? log.Stdout,
            MaxSize = map.Size("maxSize") ?? log.MaxSize,
            MaxFiles = map.Int("maxFiles") ?? log.MaxFiles,
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
        var map = fields.Map(node, path, "name", "listen", "protocol", "tls", "http2", "redirect", "maxBodySize", "trustedProxies", "trustRequestId", "fastPath", "default", "rules");
        if (map is null)
        {
            return listener;
        }

        return listener with
        {
            Name = map.String("name") ?? "",
            Listen = map.Address("listen") ?? ListenAddress.Missing,
            Protocol = ReadEnum(fields, map, "protocol", listener.Protocol),
            Tls = ReadTls(fields, map["tls"], map.PathOf("tls")),
            Http2 = map.Bool("http2"),
            Redirect = map.String("redirect"),
            MaxBodySize = map.Size("maxBodySize") ?? listener.MaxBodySize,
            TrustedProxies = map.StringList("trustedProxies") ?? listener.TrustedProxies,
            TrustRequestId = map.Bool("trustRequestId") ?? listener.TrustRequestId,
            FastPath = map.Bool("fastPath") ?? listener.FastPath,
            Default = fields.Map(map["default"], map.PathOf("default"), ActionKeys) is { } defaults ? ReadAction(fields, defaults) : listener.Default,
            Rules = fields.Items(map["rules"], map.PathOf("rules")).Select(x => ReadRule(fields, x.Item, x.Path)).ToImmutableArray(),
        };
    }

    private static TlsSpec? ReadTls(YamlFields fields, YamlNode? node, string path)
    {
        var map = fields.Map(node, path, "certificates");
        if (map is null)
        {
            return null;
        }

        var certificates = fields.Items(map["certificates"], map.PathOf("certificates"))
            .Select(x => fields.Map(x.Item, x.Path, "cert", "key") is { } cert
                ? new CertificateSpec { Cert = cert.String("cert") ?? "", Key = cert.String("key") ?? "" }
                : new CertificateSpec { Cert = "", Key = "" })
            .ToImmutableArray();
        return new TlsSpec { Certificates = certificates };
    }

    private static readonly string[] ActionKeys = ["service", "forward", "fixedResponse", "redirect"];

    private static RuleSpec ReadRule(YamlFields fields, YamlNode node, string path)
    {
        var rule = new RuleSpec { Action = ForwardAction.To("") };
        var map = fields.Map(node, path, ["priority", "path", "host", "headers", "methods", "query", "timeout", .. ActionKeys]);
        if (map is null)
        {
            return rule;
        }

        return rule with
        {
            Priority = map.Int("priority"),
            Path = ReadPath(fields, map["path"], map.PathOf("path")),
            Host = map.String("host"),
            Headers = ReadValueMap(fields, map["headers"], map.PathOf("headers")),
            Methods = map.StringList("methods") ?? rule.Methods,
            Query = ReadValueMap(fields, map["query"], map.PathOf("query")),
            Timeout = map.Duration("timeout"),
            Action = ReadAction(fields, map),
        };
    }

    /// <summary><c>path: /api</c> (prefix, or wildcard with <c>*</c>), or <c>path: { exact: /health }</c>.</summary>
    private static PathMatch ReadPath(YamlFields fields, YamlNode? node, string path)
    {
        if (node is not YamlMappingNode)
        {
            return fields.String(node, path) is { } text ? PathMatch.Parse(text) : PathMatch.Everything;
        }

        var map = fields.Map(node, path, "exact", "prefix", "wildcard")!;
        var given = new[] { (PathMatchKind.Exact, "exact"), (PathMatchKind.Prefix, "prefix"), (PathMatchKind.Wildcard, "wildcard") }
            .Where(k => map.Has(k.Item2))
            .ToList();
        if (given.Count != 1)
        {
            fields.Error(path, node, "must have exactly one of exact, prefix or wildcard");
            return PathMatch.Everything;
        }

        return new PathMatch(given[0].Item1, map.String(given[0].Item2) ?? "");
    }

    /// <summary>Exactly one of service, forward, fixedResponse or redirect.</summary>
    private static RuleAction ReadAction(YamlFields fields, YamlFields.Mapping map)
    {
        var given = ActionKeys.Where(map.Has).ToList();
        if (given.Count != 1)
        {
            fields.Error(map.Path, map.Line, given.Count == 0
                ? "needs an action: one of service, forward, fixedResponse or redirect"
                : $"has {string.Join(" and ", given)}; a rule takes exactly one action");
            return ForwardAction.To("");
        }

        var key = given[0];
        var path = map.PathOf(key);
        switch (key)
        {
            case "service":
                return ForwardAction.To(map.String(key) ?? "");
            case "forward":
                return new ForwardAction(fields.Items(map[key], path)
                    .Select(x => fields.Map(x.Item, x.Path, "service", "weight") is { } entry
                        ? new WeightedService(entry.String("service") ?? "", entry.Int("weight") ?? 1)
                        : new WeightedService("", 1))
                    .ToImmutableArray());
            case "fixedResponse":
                var fixedMap = fields.Map(map[key], path, "status", "body", "contentType");
                return new FixedResponseAction(fixedMap?.Int("status") ?? 200, fixedMap?.String("body") ?? "", fixedMap?.String("contentType") ?? "text/plain; charset=utf-8");
            default:
                var redirect = fields.Map(map[key], path, "status", "location");
                return new RedirectAction(redirect?.Int("status") ?? 301, redirect?.String("location") ?? "");
        }
    }

    private static ImmutableSortedDictionary<string, ImmutableArray<string>> ReadValueMap(YamlFields fields, YamlNode? node, string path)
    {
        var builder = ImmutableSortedDictionary.CreateBuilder<string, ImmutableArray<string>>(StringComparer.OrdinalIgnoreCase);
        foreach (var (key, value, entryPath) in fields.Entries(node, path))
        {
            builder[key] = fields.OneOrMany(value, entryPath) ?? [];
        }

        return builder.ToImmutable();
    }

    private static T ReadEnum<T>(YamlFields fields, YamlFields.Mapping map, string key, T fallback)
        where T : struct, Enum
    {
        var text = map.String(key);
        if (text is null)
        {
            return fallback;
        }

        // The spec writes enum values in snake_case (blue_green), as the API does.
        if (Enum.TryParse<T>(text.Replace("_", "", StringComparison.Ordinal), ignoreCase: true, out var value) && !int.TryParse(text, out _))
        {
            return value;
        }

        var names = Enum.GetNames<T>().Select(n => System.Text.Json.JsonNamingPolicy.SnakeCaseLower.ConvertName(n));
        fields.Error(map.PathOf(key), map[key], $"must be one of {string.Join(", ", names)}, got '{text}'");
        return fallback;
    }

    private static ServiceSpec ReadService(YamlFields fields, string name, YamlNode node, string path)
    {
        var service = new ServiceSpec { Name = name };
        var map = fields.Map(
            node,
            path,
            "command",
            "env",
            "workingDirectory",
            "desired",
            "loadBalancing",
            "stopTimeout",
            "health",
            "liveness",
            "slowStart",
            "deregistrationDelay",
            "timeout",
            "stickiness",
            "outlierDetection",
            "panicThreshold",
            "deployment",
            "resources",
            "autoscaling");
        if (map is null)
        {
            return service;
        }

        var autoscaling = ReadAutoscaling(fields, map["autoscaling"], map.PathOf("autoscaling"));
        return service with
        {
            Command = map.StringList("command") ?? service.Command,
            Env = map.StringMap("env") ?? service.Env,
            WorkingDirectory = map.String("workingDirectory") ?? service.WorkingDirectory,
            Desired = map.Int("desired") ?? autoscaling?.Min ?? service.Desired,
            LoadBalancing = ReadLoadBalancing(fields, map["loadBalancing"], map.PathOf("loadBalancing")),
            StopTimeout = map.Duration("stopTimeout") ?? service.StopTimeout,
            Health = ReadHealth(fields, map["health"], map.PathOf("health")) ?? service.Health,
            Liveness = ReadHealth(fields, map["liveness"], map.PathOf("liveness")),
            SlowStart = map.Duration("slowStart") ?? service.SlowStart,
            DeregistrationDelay = map.Duration("deregistrationDelay") ?? service.DeregistrationDelay,
            Timeout = map.Duration("timeout") ?? service.Timeout,
            Stickiness = ReadStickiness(fields, map["stickiness"], map.PathOf("stickiness")),
            OutlierDetection = ReadOutlierDetection(fields, map["outlierDetection"], map.PathOf("outlierDetection")),
            PanicThreshold = map.Int("panicThreshold") ?? service.PanicThreshold,
            Deployment = ReadDeployment(fields, map["deployment"], map.PathOf("deployment")),
            Resources = ReadResources(fields, map["resources"], map.PathOf("resources")),
            Autoscaling = autoscaling,
        };
    }

    private static StickinessSpec? ReadStickiness(YamlFields fields, YamlNode? node, string path)
    {
        var map = fields.Map(node, path, "cookie", "ttl");
        var stickiness = new StickinessSpec();
        return map is null ? null : stickiness with { Cookie = map.String("cookie") ?? stickiness.Cookie, Ttl = map.Duration("ttl") ?? stickiness.Ttl };
    }

    private static OutlierDetectionSpec ReadOutlierDetection(YamlFields fields, YamlNode? node, string path)
    {
        var detection = new OutlierDetectionSpec();
        var map = fields.Map(node, path, "enabled", "consecutive5xx", "baseEjection", "maxEjection", "maxEjectionPercent");
        return map is null ? detection : detection with
        {
            Enabled = map.Bool("enabled") ?? detection.Enabled,
            Consecutive5xx = map.Int("consecutive5xx") ?? detection.Consecutive5xx,
            BaseEjection = map.Duration("baseEjection") ?? detection.BaseEjection,
            MaxEjection = map.Duration("maxEjection") ?? detection.MaxEjection,
            MaxEjectionPercent = map.Int("maxEjectionPercent") ?? detection.MaxEjectionPercent,
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

    /// <summary>A check (readiness or liveness); null when absent.</summary>
    private static HealthCheckSpec? ReadHealth(YamlFields fields, YamlNode? node, string path)
    {
        var health = new HealthCheckSpec();
        var map = fields.Map(node, path, "type", "path", "interval", "timeout", "healthyThreshold", "unhealthyThreshold", "gracePeriod");
        if (map is null)
        {
            return null;
        }

        return health with
        {
            Type = ReadEnum(fields, map, "type", health.Type),
            Path = map.String("path") ?? health.Path,
            Interval = map.Duration("interval") ?? health.Interval,
            Timeout = map.Duration("timeout") ?? health.Timeout,
            HealthyThreshold = map.Int("healthyThreshold") ?? health.HealthyThreshold,
            UnhealthyThreshold = map.Int("unhealthyThreshold") ?? health.UnhealthyThreshold,
            GracePeriod = map.Duration("gracePeriod") ?? health.GracePeriod,
        };
    }
}
