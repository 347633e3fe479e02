namespace Flotilla.IntegrationTests.Infrastructure;

/// <summary>Spec fragments for tests: every port dynamic, fast health checks, the sample service as the workload.</summary>
internal static class Specs
{
    public const string Admin = "admin: { listen: 127.0.0.1:0 }";

    /// <summary>
    /// A service running the sample Shop, checked every second (so healthy about 2s after it listens): readiness on
    /// /health/deep, liveness on /health. <paramref name="extra"/> adds fields, one per line, at the service's indentation.
    /// </summary>
    public static string Shop(string name, int desired, string loadBalancing = "round_robin", string gracePeriod = "10s", string stopTimeout = "5s", params string[] extra) => $$"""
          {{name}}:
            command: ["dotnet", "{{Paths.ShopDll}}"]
            env: { ASPNETCORE_URLS: "http://127.0.0.1:${PORT}" }
            desired: {{desired}}
            loadBalancing: {{loadBalancing}}
            stopTimeout: {{stopTimeout}}
            deregistrationDelay: 5s
            health: { path: /health/deep, interval: 1s, timeout: 500ms, healthyThreshold: 2, unhealthyThreshold: 3, gracePeriod: {{gracePeriod}} }
            liveness: { path: /health, interval: 1s, timeout: 500ms, unhealthyThreshold: 3, gracePeriod: {{gracePeriod}} }
        {{string.Concat(extra.Select(line => $"    {line}\n"))}}
        """;

    /// <summary>One listener "web" on a dynamic port forwarding everything to <paramref name="service"/>.</summary>
    public static string Web(string service) => $$"""
        listeners:
          - name: web
            listen: 127.0.0.1:0
            rules:
              - service: {{service}}
        """;

    /// <summary>
    /// Listeners "web" (the fast path) and "yarp" (<c>fastPath: false</c>: Kestrel + YARP) sending everything to
    /// <paramref name="service"/>, then <paramref name="more"/> listeners, which may use the same rules as <c>*rules</c>.
    /// </summary>
    public static string BothPaths(string service, string more = "") => $$"""
        listeners:
          - name: web
            listen: 127.0.0.1:0
            rules: &rules
              - service: {{service}}
          - name: yarp
            listen: 127.0.0.1:0
            fastPath: false
            rules: *rules
        {{more}}
        """;

    public static string Fleet(string listeners, params string[] services) =>
        $"{Admin}\n{listeners}\nservices:\n{string.Join("\n", services)}\n";
}
