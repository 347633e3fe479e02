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
        Assert.Equal((PathMatch.Parse("/api/orders"), "*.example.com", (RuleAction)ForwardAction.To("orders")), (web.Rules[0].Path, web.Rules[0].Host, web.Rules[0].Action));
        Assert.Equal((PathMatch.Everything, (string?)null, (RuleAction)ForwardAction.To("shop")), (web.Rules[1].Path, web.Rules[1].Host, web.Rules[1].Action));
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

    [Theory]
    [InlineData("maxSize: 1KB", "f.yaml:1 accessLog.maxSize: must be between 1000000 and 1000000000000, got 1000")]
    [InlineData("maxSize: lots", "f.yaml:1 accessLog.maxSize: must be a size such as 1048576, 512KB, 10MB or 1GB, got 'lots'")]
    [InlineData("maxFiles: 0", "f.yaml:1 accessLog.maxFiles: must be between 1 and 100, got 0")]
    public void Load_BadAccessLogField_ReportsIt(string field, string expected)
    {
        var result = Load($"accessLog: {{ {field} }}\n{Minimal}");

        Assert.Equal(expected, Errors(result));
    }

    [Fact]
    public void Load_LoadBalancerLimits_DefaultToKestrelsAndTheOpenFilesLimit_AndAreRead()
    {
        var defaults = Load(Minimal).Document!.Spec.LoadBalancer;
        var set = Load($"loadBalancer: {{ maxConnections: 5000, keepAliveTimeout: 75s, requestTimeout: 5s }}\n{Minimal}").Document!.Spec.LoadBalancer;

        Assert.Equal((null, TimeSpan.FromSeconds(130), TimeSpan.FromSeconds(30)), (defaults.MaxConnections, defaults.KeepAliveTimeout, defaults.RequestTimeout));
        Assert.Equal((5000, TimeSpan.FromSeconds(75), TimeSpan.FromSeconds(5)), (set.MaxConnections, set.KeepAliveTimeout, set.RequestTimeout));
    }

    [Theory]
    [InlineData("keepAliveTimeout: 500ms", "f.yaml:1 loadBalancer.keepAliveTimeout: must be between 1s and 1h, got 500ms")]
    [InlineData("keepAliveTimeout: 2h", "f.yaml:1 loadBalancer.keepAliveTimeout: must be between 1s and 1h, got 2h")]
    [InlineData("requestTimeout: 0s", "f.yaml:1 loadBalancer.requestTimeout: must be between 1s and 5m, got 0s")]
    [InlineData("requestTimeout: 10m", "f.yaml:1 loadBalancer.requestTimeout: must be between 1s and 5m, got 10m")]
    [InlineData("requestTimeout: soon", "f.yaml:1 loadBalancer.requestTimeout: must be a duration")]
    [InlineData("maxConnections: 0", "f.yaml:1 loadBalancer.maxConnections: must be between 1 and 10000000, got 0")]
    [InlineData("idleTimeout: 60s", "f.yaml:1 loadBalancer.idleTimeout: unknown field; expected one of: maxConnections, keepAliveTimeout, requestTimeout")]
    public void Load_BadLoadBalancerField_ReportsIt(string field, string expected)
    {
        var result = Load($"loadBalancer: {{ {field} }}\n{Minimal}");

        Assert.StartsWith(expected, Errors(result));
    }

    [Fact]
    public void Load_DataPlaneSpec_ReadsListenerRulesActionsAndServiceSettings()
    {
        var result = Load("""
            accessLog: { enabled: false, stdout: true, maxSize: 10MB, maxFiles: 2 }
            listeners:
              - name: secure
                listen: 127.0.0.1:8443
                protocol: https
                tls:
                  certificates:
                    - { cert: a.pem, key: a-key.pem }
                http2: false
                maxBodySize: 10MB
                trustedProxies: [10.0.0.0/8, 127.0.0.1]
                trustRequestId: true
                default: { fixedResponse: { status: 404, body: nothing here } }
                rules:
                  - priority: 10
                    path: { exact: /health }
                    fixedResponse: { status: 200, body: ok, contentType: text/plain }
                  - path: /img/*.png
                    host: "*.example.com"
                    headers: { X-Canary: [yes, "true"] }
                    methods: [GET, HEAD]
                    query: { v: "2" }
                    timeout: 5s
                    forward:
                      - { service: shop, weight: 90 }
                      - { service: canary, weight: 10 }
                  - path: /old
                    redirect: { status: 308, location: "https://#{host}/new#{query}" }
              - name: plain
                listen: 127.0.0.1:8080
                redirect: https
            services:
              shop:
                command: [app]
                liveness: { type: tcp, interval: 5s, unhealthyThreshold: 2 }
                slowStart: 30s
                deregistrationDelay: 10s
                timeout: 20s
                stickiness: { cookie: PIN, ttl: 10m }
                outlierDetection: { consecutive5xx: 3, baseEjection: 10s, maxEjection: 1m, maxEjectionPercent: 30 }
                panicThreshold: 0
              canary:
                command: [app]
                outlierDetection: { enabled: false }
            """);

        Assert.True(result.IsValid, Errors(result));
        var spec = result.Document!.Spec;
        Assert.Equal(new AccessLogSpec { Enabled = false, Stdout = true, MaxSize = 10_000_000, MaxFiles = 2 }, spec.AccessLog);
        var secure = spec.Listeners[0];
        Assert.Equal(ListenerProtocol.Https, secure.Protocol);
        Assert.Equal(new CertificateSpec { Cert = "a.pem", Key = "a-key.pem" }, Assert.Single(secure.Tls!.Certificates));
        Assert.False(secure.OffersHttp2);
        Assert.Equal(10_000_000, secure.MaxBodySize);
        Assert.Equal(["10.0.0.0/8", "127.0.0.1"], secure.TrustedProxies);
        Assert.True(secure.TrustRequestId);
        Assert.Equal(new FixedResponseAction(404, "nothing here", "text/plain; charset=utf-8"), secure.Default);
        Assert.Equal(10, secure.Rules[0].Priority);
        Assert.Equal(new PathMatch(PathMatchKind.Exact, "/health"), secure.Rules[0].Path);
        Assert.Equal(new FixedResponseAction(200, "ok", "text/plain"), secure.Rules[0].Action);
        var split = secure.Rules[1];
        Assert.Equal(PathMatchKind.Wildcard, split.Path.Kind);
        Assert.Equal(["yes", "true"], split.Headers["x-canary"]);
        Assert.Equal(["GET", "HEAD"], split.Methods);
        Assert.Equal(["2"], split.Query["v"]);
        Assert.Equal(TimeSpan.FromSeconds(5), split.Timeout);
        Assert.Equal(new ForwardAction([new WeightedService("shop", 90), new WeightedService("canary", 10)]), split.Action);
        Assert.Equal(new RedirectAction(308, "https://#{host}/new#{query}"), secure.Rules[2].Action);
        Assert.Equal("https", spec.Listeners[1].Redirect);
        var shop = spec.Services[0];
        Assert.Equal(CheckType.Tcp, shop.Liveness!.Type);
        Assert.Equal(2, shop.Liveness.UnhealthyThreshold);
        Assert.Equal(TimeSpan.FromSeconds(30), shop.SlowStart);
        Assert.Equal(TimeSpan.FromSeconds(10), shop.DeregistrationDelay);
        Assert.Equal(TimeSpan.FromSeconds(20), shop.Timeout);
        Assert.Equal(new StickinessSpec { Cookie = "PIN", Ttl = TimeSpan.FromMinutes(10) }, shop.Stickiness);
        Assert.Equal(new OutlierDetectionSpec { Consecutive5xx = 3, BaseEjection = TimeSpan.FromSeconds(10), MaxEjection = TimeSpan.FromMinutes(1), MaxEjectionPercent = 30 }, shop.OutlierDetection);
        Assert.Equal(0, shop.PanicThreshold);
        Assert.False(spec.Services[1].OutlierDetection.Enabled);
        Assert.Null(spec.Services[1].Liveness);
        Assert.Null(spec.Services[1].Stickiness);
    }

    [Theory]
    [InlineData("- { name: a, listen: 127.0.0.1:1, protocol: https, rules: [{ service: shop }] }", "listeners[0].tls: an https listener needs tls.certificates")]
    [InlineData("- { name: a, listen: 127.0.0.1:1, protocol: ftp, rules: [{ service: shop }] }", "listeners[0].protocol: must be one of http, https, got 'ftp'")]
    [InlineData("- { name: a, listen: 127.0.0.1:1, tls: { certificates: [{ cert: a, key: b }] }, rules: [{ service: shop }] }", "listeners[0].tls: applies only to listeners with protocol: https")]
    [InlineData("- { name: a, listen: 127.0.0.1:1, redirect: https }", "listeners[0].redirect: redirect: https needs an https listener")]
    [InlineData("- { name: a, listen: 127.0.0.1:1, http2: true, rules: [{ service: shop }] }", "listeners[0].http2: HTTP/2 needs protocol: https")]
    [InlineData("- { name: a, listen: 127.0.0.1:1, redirect: ftp }", "listeners[0].redirect: the only redirect is https, got 'ftp'")]
    [InlineData("- { name: a, listen: 127.0.0.1:1, maxBodySize: 10XB, rules: [{ service: shop }] }", "listeners[0].maxBodySize: must be a size such as")]
    [InlineData("- { name: a, listen: 127.0.0.1:1, trustedProxies: [10.0.0.0/99], rules: [{ service: shop }] }", "listeners[0].trustedProxies[0]: must be an IP address or a CIDR range")]
    [InlineData("- { name: a, listen: 127.0.0.1:1, rules: [{ path: /a }] }", "listeners[0].rules[0]: needs an action: one of service, forward, fixedResponse or redirect")]
    [InlineData("- { name: a, listen: 127.0.0.1:1, rules: [{ service: shop, redirect: { location: /x } }] }", "listeners[0].rules[0]: has service and redirect; a rule takes exactly one action")]
    [InlineData("- { name: a, listen: 127.0.0.1:1, rules: [{ priority: 1, service: shop }, { priority: 1, service: shop }] }", "listeners[0].rules[1].priority: priority 1 is already used by rules[0]")]
    [InlineData("- { name: a, listen: 127.0.0.1:1, rules: [{ priority: 0, service: shop }] }", "listeners[0].rules[0].priority: must be between 1 and 50000, got 0")]
    [InlineData("- { name: a, listen: 127.0.0.1:1, rules: [{ path: { exact: /a, prefix: /b }, service: shop }] }", "listeners[0].rules[0].path: must have exactly one of exact, prefix or wildcard")]
    [InlineData("- { name: a, listen: 127.0.0.1:1, rules: [{ forward: [{ service: shop, weight: 0 }] }] }", "listeners[0].rules[0].forward: at least one service needs a weight above 0")]
    [InlineData("- { name: a, listen: 127.0.0.1:1, rules: [{ forward: [{ service: shop }, { service: shop }] }] }", "listeners[0].rules[0].forward: service 'shop' is listed twice")]
    [InlineData("- { name: a, listen: 127.0.0.1:1, rules: [{ forward: [{ service: nope, weight: 2 }] }] }", "listeners[0].rules[0].forward[0].service: unknown service 'nope'")]
    [InlineData("- { name: a, listen: 127.0.0.1:1, rules: [{ fixedResponse: { status: 99 } }] }", "listeners[0].rules[0].fixedResponse.status: must be between 200 and 599, got 99")]
    [InlineData("- { name: a, listen: 127.0.0.1:1, rules: [{ fixedResponse: { status: 101 } }] }", "listeners[0].rules[0].fixedResponse.status: must be between 200 and 599, got 101")]
    [InlineData("- { name: a, listen: 127.0.0.1:1, rules: [{ fixedResponse: { status: 204, body: x } }] }", "listeners[0].rules[0].fixedResponse.body: must be empty with status 204")]
    [InlineData("- { name: a, listen: 127.0.0.1:1, rules: [{ fixedResponse: { status: 200, contentType: \"text/plain\\r\\nX-Evil: 1\" } }] }", "listeners[0].rules[0].fixedResponse.contentType: is not a media type")]
    [InlineData("- { name: a, listen: 127.0.0.1:1, rules: [{ redirect: { location: /caf\u00e9 } }] }", "listeners[0].rules[0].redirect.location: must be ASCII without spaces or control characters")]
    [InlineData("- { name: a, listen: 127.0.0.1:1, rules: [{ redirect: { status: 200, location: /x } }] }", "listeners[0].rules[0].redirect.status: must be 301, 302, 303, 307 or 308, got 200")]
    [InlineData("- { name: a, listen: 127.0.0.1:1, rules: [{ redirect: { location: \"#{hots}/x\" } }] }", "listeners[0].rules[0].redirect.location: unknown variable #{hots}")]
    [InlineData("- { name: a, listen: 127.0.0.1:1, rules: [{ redirect: { location: example.com } }] }", "listeners[0].rules[0].redirect.location: must start with http://, https://, #{scheme}:// or /")]
    [InlineData("- { name: a, listen: 127.0.0.1:1, rules: [{ headers: { \"X Bad\": y }, service: shop }] }", "listeners[0].rules[0].headers.X Bad: is not a valid header name")]
    [InlineData("- { name: a, listen: 127.0.0.1:1, rules: [{ methods: [\"G T\"], service: shop }] }", "listeners[0].rules[0].methods: 'G T' is not an HTTP method")]
    [InlineData("- { name: a, listen: 127.0.0.1:1, rules: [{ timeout: 0s, service: shop }] }", "listeners[0].rules[0].timeout: must be between 1s and 1h, got 0s")]
    [InlineData("- { name: a, listen: 127.0.0.1:1, default: { service: nope }, rules: [{ service: shop }] }", "listeners[0].default.service: unknown service 'nope'")]
    public void Load_BadDataPlaneListener_ReportsIt(string listeners, string expected)
    {
        var result = Load($"{Minimal}\nlisteners:\n  {listeners}\n");

        Assert.Contains(result.Errors, e => $"{e.Path}: {e.Message}".StartsWith(expected, StringComparison.Ordinal) || $"{e.Path}: {e.Message}".Contains(expected, StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("liveness: { type: udp }", "services.shop.liveness.type: must be one of http, tcp, got 'udp'")]
    [InlineData("liveness: { interval: 0s }", "services.shop.liveness.interval: must be between 1s and 5m, got 0s")]
    [InlineData("slowStart: 1h", "services.shop.slowStart: must be between 0s and 15m, got 1h")]
    [InlineData("deregistrationDelay: 2h", "services.shop.deregistrationDelay: must be between 0s and 1h, got 2h")]
    [InlineData("timeout: 0s", "services.shop.timeout: must be between 1s and 1h, got 0s")]
    [InlineData("panicThreshold: 101", "services.shop.panicThreshold: must be between 0 and 100, got 101")]
    [InlineData("stickiness: { cookie: \"a b\" }", "services.shop.stickiness.cookie: is not a valid cookie name, got 'a b'")]
    [InlineData("stickiness: { ttl: 0s }", "services.shop.stickiness.ttl: must be between 1s and 168h, got 0s")]
    [InlineData("outlierDetection: { consecutive5xx: 0 }", "services.shop.outlierDetection.consecutive5xx: must be between 1 and 1000, got 0")]
    [InlineData("outlierDetection: { baseEjection: 1m, maxEjection: 30s }", "services.shop.outlierDetection.maxEjection: must be between 1m and 1h, got 30s")]
    [InlineData("outlierDetection: { enabled: maybe }", "services.shop.outlierDetection.enabled: must be true or false, got 'maybe'")]
    public void Load_BadServiceDataPlaneSetting_ReportsIt(string field, string expected)
    {
        var result = Load($"services:\n  shop:\n    command: [app]\n    {field}\n");

        var error = Assert.Single(result.Errors);
        Assert.StartsWith(expected, $"{error.Path}: {error.Message}");
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
    [InlineData("- { name: web, listen: 127.0.0.1:80, rules: [{ path: /a }] }", "listeners[0].rules[0]: needs an action")]
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
