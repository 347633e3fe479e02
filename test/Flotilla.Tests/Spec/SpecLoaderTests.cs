using Flotilla.Core.LoadBalancing;
using Flotilla.Core.Spec;

namespace Flotilla.Tests.Spec;

public sealed class SpecLoaderTests
{
    private const string Minimal = """
        services:
          shop:
            command: ["dotnet", "Shop.dll"]
        """;

    private static SpecLoadResult Load(string yaml) => SpecLoader.Load(yaml, "f.yaml", "/specs");

    private static string Errors(SpecLoadResult result) => string.Join("\n", result.Errors);

    [Fact]
    public void Load_MinimalSpec_FillsEveryDefault()
    {
        var result = Load(Minimal);

        Assert.True(result.IsValid, Errors(result));
        var spec = result.Document!.Spec;
        Assert.Equal(new ListenAddress("127.0.0.1", 9400), spec.Admin.Listen);
        Assert.Empty(spec.Listeners);
        var shop = Assert.Single(spec.Services);
        Assert.Equal("shop", shop.Name);
        Assert.Equal(["dotnet", "Shop.dll"], shop.Command);
        Assert.Equal(1, shop.Desired);
        Assert.Equal(new LoadBalancingSpec(), shop.LoadBalancing);
        Assert.Equal(TimeSpan.FromSeconds(10), shop.StopTimeout);
        Assert.Equal(".", shop.WorkingDirectory);
        Assert.Equal(new HealthCheckSpec(), shop.Health);
        Assert.Equal("/health", shop.Health.Path);
        Assert.Equal(TimeSpan.FromSeconds(10), shop.Health.Interval);
        Assert.Equal(TimeSpan.FromSeconds(2), shop.Health.Timeout);
        Assert.Equal(2, shop.Health.HealthyThreshold);
        Assert.Equal(3, shop.Health.UnhealthyThreshold);
        Assert.Equal(TimeSpan.FromSeconds(30), shop.Health.GracePeriod);
        Assert.Equal("/specs", result.Document.BaseDirectory);
    }

    [Fact]
    public void Load_FullSpec_ReadsEveryField()
    {
        var result = Load("""
            admin:
              listen: 127.0.0.1:9500
            listeners:
              - name: web
                listen: 0.0.0.0:8080
                rules:
                  - path: /api/orders
                    host: "*.example.com"
                    service: orders
                  - service: shop
            services:
              shop:
                command: [dotnet, Shop.dll, "--port=${PORT}"]
                env: { ASPNETCORE_URLS: "http://127.0.0.1:${PORT}", GREETING: "$$HOME" }
                workingDirectory: shop
                desired: 3
                loadBalancing: least_requests
                stopTimeout: 20s
                health: { path: /healthz, interval: 2s, timeout: 500ms, healthyThreshold: 3, unhealthyThreshold: 4, gracePeriod: 1m }
              orders:
                command: [./orders]
            """);

        Assert.True(result.IsValid, Errors(result));
        var spec = result.Document!.Spec;
        Assert.Equal(9500, spec.Admin.Listen.Port);
        var web = Assert.Single(spec.Listeners);
        Assert.Equal(new ListenAddress("0.0.0.0", 8080), web.Listen);
        Assert.Equal(new RuleSpec { Path = "/api/orders", Host = "*.example.com", Service = "orders" }, web.Rules[0]);
        Assert.Equal(new RuleSpec { Path = "/", Service = "shop" }, web.Rules[1]);
        Assert.Equal(["shop", "orders"], spec.Services.Select(s => s.Name));
        var shop = spec.Services[0];
        Assert.Equal(LoadBalancingNames.LeastRequests, shop.LoadBalancing.Algorithm);
        Assert.Equal("http://127.0.0.1:${PORT}", shop.Env["ASPNETCORE_URLS"]);
        Assert.Equal("shop", shop.WorkingDirectory);
        Assert.Equal(3, shop.Desired);
        Assert.Equal(TimeSpan.FromSeconds(20), shop.StopTimeout);
        Assert.Equal(
            new HealthCheckSpec
            {
                Path = "/healthz",
                Interval = TimeSpan.FromSeconds(2),
                Timeout = TimeSpan.FromMilliseconds(500),
                HealthyThreshold = 3,
                UnhealthyThreshold = 4,
                GracePeriod = TimeSpan.FromMinutes(1),
            },
            shop.Health);
    }

    [Fact]
    public void Load_SampleSpecOfTheRepository_IsValid()
    {
        var file = Path.Combine(RepositoryRoot(), "samples", "flotilla.yaml");

        var result = SpecLoader.Load(File.ReadAllText(file), file, Path.GetDirectoryName(file)!);

        Assert.True(result.IsValid, Errors(result));
        Assert.Equal(3, result.Document!.Spec.FindService("shop")!.Desired);
    }

    [Fact]
    public void Load_OutOfRangeInterval_ReportsFileLinePathAndBounds()
    {
        var result = Load("""
            services:
              shop:
                command: [app]
                health:
                  interval: 0s
            """);

        Assert.Equal("f.yaml:5 services.shop.health.interval: must be between 1s and 5m, got 0s", Assert.Single(result.Errors).ToString());
    }

    [Fact]
    public void Load_ManyProblems_ReportsEveryOneWithItsOwnLineInFileOrder()
    {
        var result = Load("""
            admin:
              listen: nowhere
            listeners:
              - name: Web
                listen: 127.0.0.1:8080
                rules:
                  - path: /api
                    service: payments
            services:
              shop:
                command: [app]
                desired: -1
                loadBalancing: fastest
                stopTimeout: 5
                health:
                  healthyTreshold: 2
              orders:
                env: { PORT: "1" }
            """);

        Assert.Equal(
            [
                "f.yaml:2 admin.listen: must be host:port, e.g. 127.0.0.1:8080, got 'nowhere'",
                "f.yaml:4 listeners[0].name: must be lower-case letters, digits and '-', starting with a letter, got 'Web'",
                "f.yaml:8 listeners[0].rules[0].service: unknown service 'payments'; services: orders, shop",
                "f.yaml:12 services.shop.desired: must be between 0 and 100, got -1",
                "f.yaml:13 services.shop.loadBalancing.algorithm: unknown algorithm 'fastest'; valid: round_robin, weighted_round_robin, least_requests, power_of_two, random, ip_hash, consistent_hash, least_response_time",
                "f.yaml:14 services.shop.stopTimeout: must be a duration such as 250ms, 5s, 2m or 1h, got '5'",
                "f.yaml:16 services.shop.health.healthyTreshold: unknown field; did you mean 'healthyThreshold'?",
                "f.yaml:17 services.orders.command: is required, e.g. [\"dotnet\", \"app.dll\"]",
                "f.yaml:18 services.orders.env.PORT: PORT is set by Flotilla for each task; use ${PORT} in another variable to pass the port under a different name",
            ],
            result.Errors.Select(e => e.ToString()));
        Assert.Null(result.Document);
    }

    [Fact]
    public void Load_BrokenYaml_ReportsTheLineOfTheSyntaxError()
    {
        var result = Load("""
            services:
              shop:
                command: [app
                desired: 2
            """);

        var error = Assert.Single(result.Errors);
        Assert.StartsWith("f.yaml:", error.ToString());
        Assert.Contains("not valid YAML", error.Message);
        Assert.InRange(error.Line, 3, 5);
    }

    [Fact]
    public void Load_DefaultedTimeoutNotBelowInterval_PointsAtTheHealthBlock()
    {
        var result = Load("""
            services:
              shop:
                command: [app]
                health:
                  interval: 1s
            """);

        Assert.Equal("f.yaml:4 services.shop.health.timeout: must be less than interval (1s), got 2s", Assert.Single(result.Errors).ToString());
    }

    [Theory]
    [InlineData("command: [app, \"${PROT}\"]", "services.shop.command[1]: unknown variable ${PROT}")]
    [InlineData("command: [app, \"${PORT\"]", "services.shop.command[1]: '${' has no closing '}'")]
    [InlineData("command: app", "services.shop.command: must be a list of strings")]
    [InlineData("command: [\"\"]", "services.shop.command[0]: the program must not be empty")]
    [InlineData("command: [app]\n    desired: three", "services.shop.desired: must be a whole number, got 'three'")]
    [InlineData("command: [app]\n    desired: 101", "services.shop.desired: must be between 0 and 100, got 101")]
    [InlineData("command: [app]\n    stopTimeout: 3m", "services.shop.stopTimeout: must be between 0s and 2m, got 3m")]
    [InlineData("command: [app]\n    health: { path: health }", "services.shop.health.path: must be a URL path starting with '/'")]
    [InlineData("command: [app]\n    health: { healthyThreshold: 0 }", "services.shop.health.healthyThreshold: must be between 1 and 10, got 0")]
    [InlineData("command: [app]\n    health: { unhealthyThreshold: 11 }", "services.shop.health.unhealthyThreshold: must be between 1 and 10, got 11")]
    [InlineData("command: [app]\n    health: { timeout: 50ms, interval: 2s }", "services.shop.health.timeout: must be between 100ms and 1m, got 50ms")]
    [InlineData("command: [app]\n    health: { gracePeriod: 2h }", "services.shop.health.gracePeriod: must be between 0s and 1h, got 2h")]
    [InlineData("command: [app]\n    env: { FLOTILLA_X: y }", "services.shop.env.FLOTILLA_X: FLOTILLA_X is set by Flotilla")]
    [InlineData("command: [app]\n    env: { 1BAD: y }", "services.shop.env.1BAD: environment variable names must be")]
    [InlineData("command: [app]\n    workingDirectory: \"\"", "services.shop.workingDirectory: must not be empty")]
    [InlineData("command: [app]\n    replicas: 3", "services.shop.replicas: unknown field; expected one of: command, env")]
    public void Load_BadServiceField_ReportsIt(string fields, string expected)
    {
        var result = Load($"services:\n  shop:\n    {fields}\n");

        var error = Assert.Single(result.Errors);
        Assert.Contains(expected, $"{error.Path}: {error.Message}");
    }

    [Fact]
    public void Load_LoadBalancingAsAMapping_ReadsTheAlgorithmAndItsOptions()
    {
        var result = Load("services:\n  shop:\n    command: [app]\n    loadBalancing: { algorithm: consistent_hash, hashOn: \"header:X-User\", virtualNodes: 100, boundedLoad: 1.25 }\n");

        Assert.True(result.IsValid, Errors(result));
        Assert.Equal(
            new LoadBalancingSpec { Algorithm = LoadBalancingNames.ConsistentHash, HashOn = "header:X-User", VirtualNodes = 100, BoundedLoad = 1.25 },
            result.Document!.Spec.Services[0].LoadBalancing);
    }

    [Theory]
    [InlineData("loadBalancing: { algorithm: consistent_hash, hashOn: body }", "services.shop.loadBalancing.hashOn: must be client_ip, header:NAME or cookie:NAME, got 'body'")]
    [InlineData("loadBalancing: { algorithm: consistent_hash, virtualNodes: 0 }", "services.shop.loadBalancing.virtualNodes: must be between 1 and 1000, got 0")]
    [InlineData("loadBalancing: { algorithm: consistent_hash, boundedLoad: 1 }", "services.shop.loadBalancing.boundedLoad: must be between 1.01 and 10, got 1")]
    [InlineData("loadBalancing: { algorithm: random, hashOn: \"cookie:id\" }", "services.shop.loadBalancing: hashOn, virtualNodes and boundedLoad apply only to consistent_hash, not random")]
    [InlineData("loadBalancing: { algorithm: random, weight: 2 }", "services.shop.loadBalancing.weight: unknown field")]
    [InlineData("loadBalancing: fastest", "services.shop.loadBalancing.algorithm: unknown algorithm 'fastest'")]
    public void Load_BadLoadBalancing_ReportsIt(string field, string expected)
    {
        var result = Load($"services:\n  shop:\n    command: [app]\n    {field}\n");

        var error = Assert.Single(result.Errors);
        Assert.StartsWith(expected, $"{error.Path}: {error.Message}");
        Assert.Equal(4, error.Line);
    }

    [Theory]
    [InlineData("- { name: web, rules: [{ service: shop }] }", "listeners[0].listen: is required")]
    [InlineData("- { listen: 127.0.0.1:80, rules: [{ service: shop }] }", "listeners[0].name: is required")]
    [InlineData("- { name: web, listen: 127.0.0.1:80 }", "listeners[0].rules: at least one rule is required")]
    [InlineData("- { name: web, listen: 127.0.0.1:80, rules: [{ path: /a }] }", "listeners[0].rules[0].service: is required")]
    [InlineData("- { name: web, listen: 127.0.0.1:80, rules: [{ path: a, service: shop }] }", "listeners[0].rules[0].path: must start with '/'")]
    [InlineData("- { name: web, listen: 127.0.0.1:80, rules: [{ path: \"/{id}\", service: shop }] }", "listeners[0].rules[0].path: must start with '/'")]
    [InlineData("- { name: web, listen: 127.0.0.1:80, rules: [{ host: \"a.com:80\", service: shop }] }", "listeners[0].rules[0].host: must be a host name")]
    [InlineData("- { name: web, listen: 127.0.0.1:9400, rules: [{ service: shop }] }", "listeners[0].listen: 127.0.0.1:9400 is already used by admin.listen")]
    [InlineData("- { name: web, listen: example.com:80, rules: [{ service: shop }] }", "listeners[0].listen: host must be an IP address or 'localhost'")]
    [InlineData("- { name: web, listen: 127.0.0.1:70000, rules: [{ service: shop }] }", "listeners[0].listen: port must be a number from 0 to 65535")]
    [InlineData("- { name: web, listen: 127.0.0.1:80, rules: [{ service: shop }] }\n  - { name: web, listen: 127.0.0.1:81, rules: [{ service: shop }] }", "listeners[1].name: listener 'web' is defined twice")]
    [InlineData("- { name: a, listen: 127.0.0.1:80, rules: [{ service: shop }] }\n  - { name: b, listen: 127.0.0.1:80, rules: [{ service: shop }] }", "listeners[1].listen: 127.0.0.1:80 is already used by listeners[0].listen")]
    public void Load_BadListener_ReportsIt(string listeners, string expected)
    {
        var result = Load($"{Minimal}\nlisteners:\n  {listeners}\n");

        var error = Assert.Single(result.Errors);
        Assert.Contains(expected, $"{error.Path}: {error.Message}");
    }

    [Fact]
    public void Load_TwoListenersOnPortZero_AreBothAllowed()
    {
        var result = Load($"{Minimal}\nlisteners:\n  - {{ name: a, listen: 127.0.0.1:0, rules: [{{ service: shop }}] }}\n  - {{ name: b, listen: 127.0.0.1:0, rules: [{{ service: shop }}] }}\n");

        Assert.True(result.IsValid, Errors(result));
    }

    [Theory]
    [InlineData("", "services: at least one service is required")]
    [InlineData("services: [a, b]", "services: must be a mapping")]
    [InlineData("services:\n  Shop: { command: [app] }", "services.Shop: service names must be lower-case")]
    [InlineData("sevices: {}", "sevices: unknown field; did you mean 'services'?")]
    public void Load_BadTopLevel_ReportsIt(string yaml, string expected)
    {
        var result = Load(yaml);

        Assert.Contains(result.Errors, e => $"{e.Path}: {e.Message}".StartsWith(expected, StringComparison.Ordinal) || e.Message.StartsWith(expected, StringComparison.Ordinal));
    }

    internal static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Flotilla.slnx")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException("Flotilla.slnx not found above " + AppContext.BaseDirectory);
    }
}
