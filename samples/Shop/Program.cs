// The sample service that Flotilla's sample fleet runs: stateless, quick to start, with endpoints for drills.
//   GET /             JSON with the service, task id and path (any other GET path answers the same way)
//   GET /health       shallow health (the sample's liveness check): 200 while the process serves, 503 after POST /wedge
//   GET /health/deep  deep health (the sample's readiness check): also checks the URLs in DEPENDS_ON
//                     (comma-separated); 503 if one fails, or after POST /sick or POST /wedge
//   GET /work?ms=N    waits N ms (I/O-bound load)
//   GET /cpu?ms=N     burns CPU for N ms (CPU-bound load)
//   GET /fail         500
//   GET /crash        answers, then exits with code 1
//   POST /sick        fails /health/deep from now on: the task leaves the load balancer but is not replaced
//   POST /wedge       fails /health too: the task looks hung, and its liveness check has it replaced
//   GET /echo         JSON with the request's method, path, query and headers, as the task received them
//   GET /sse?count=N  N server-sent events, 100 ms apart
//   GET /ws           a WebSocket that echoes every message
//   POST /upload      reads the body, answers its size in bytes
//   POST /faulty      every later request (health checks aside) answers 500: drills passive health
//   POST /recover     undoes /sick and /faulty
//   GET /abort        resets the connection without answering
// Environment: FAIL_RATE=0.2 makes 20% of requests (health checks aside) answer 500, to drill a canary's analysis.
using System.Diagnostics;
using System.Net.WebSockets;

var builder = WebApplication.CreateSlimBuilder(args);
builder.Logging.SetMinimumLevel(LogLevel.Warning);
builder.Services.AddHttpClient();
var app = builder.Build();

var service = Environment.GetEnvironmentVariable("FLOTILLA_SERVICE") ?? "shop";
var taskId = Environment.GetEnvironmentVariable("FLOTILLA_TASK_ID") ?? Environment.MachineName;
var dependencies = (Environment.GetEnvironmentVariable("DEPENDS_ON") ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
var sick = false;
var wedged = false;
var faulty = false;
var failRate = double.TryParse(Environment.GetEnvironmentVariable("FAIL_RATE"), System.Globalization.CultureInfo.InvariantCulture, out var rate) ? rate : 0;

app.UseWebSockets();
app.Use((context, next) =>
{
    context.Response.Headers["X-Task-Id"] = taskId;
    var drill = context.Request.Path.StartsWithSegments("/health") || context.Request.Path.StartsWithSegments("/recover");
    if (!drill && (Volatile.Read(ref faulty) || (failRate > 0 && Random.Shared.NextDouble() < failRate)))
    {
        context.Response.StatusCode = 500;
        return Task.CompletedTask;
    }

    return next(context);
});

app.MapGet("/health", () => Volatile.Read(ref wedged) ? Results.Text("wedged\n", statusCode: 503) : Results.Text("ok\n"));

app.MapGet("/health/deep", async (IHttpClientFactory clients, CancellationToken cancellation) =>
{
    if (Volatile.Read(ref sick) || Volatile.Read(ref wedged))
    {
        return Results.Text("sick\n", statusCode: 503);
    }

    using var client = clients.CreateClient();
    client.Timeout = TimeSpan.FromSeconds(2);
    foreach (var url in dependencies)
    {
        try
        {
            using var response = await client.GetAsync(url, cancellation);
            if (!response.IsSuccessStatusCode)
            {
                return Results.Text($"{url}: HTTP {(int)response.StatusCode}\n", statusCode: 503);
            }
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
        {
            return Results.Text($"{url}: {e.Message}\n", statusCode: 503);
        }
    }

    return Results.Text("ok\n");
});

app.MapGet("/work", async (int? ms, CancellationToken cancellation) =>
{
    await Task.Delay(Math.Clamp(ms ?? 100, 0, 600_000), cancellation);
    return Results.Ok(new { service, task = taskId, waitedMs = ms ?? 100 });
});

app.MapGet("/cpu", (int? ms) =>
{
    var budget = TimeSpan.FromMilliseconds(Math.Clamp(ms ?? 100, 0, 60_000));
    var watch = Stopwatch.StartNew();
    var x = 0UL;
    while (watch.Elapsed < budget)
    {
        for (var i = 0; i < 10_000; i++)
        {
            x = (x * 6364136223846793005UL) + 1442695040888963407UL;
        }
    }

    return Results.Ok(new { service, task = taskId, burnedMs = (int)watch.ElapsedMilliseconds, x });
});

app.MapGet("/fail", () => Results.Text("failing on purpose\n", statusCode: 500));

app.MapGet("/crash", (HttpContext context) =>
{
    context.Response.OnCompleted(() =>
    {
        _ = Task.Run(() => Environment.Exit(1));
        return Task.CompletedTask;
    });
    return Results.Text($"task {taskId} crashing\n");
});

app.MapPost("/sick", () =>
{
    Volatile.Write(ref sick, true);
    return Results.Text($"task {taskId} now fails /health/deep\n");
});

app.MapPost("/wedge", () =>
{
    Volatile.Write(ref wedged, true);
    return Results.Text($"task {taskId} now fails /health and /health/deep\n");
});

app.MapPost("/faulty", () =>
{
    Volatile.Write(ref faulty, true);
    return Results.Text($"task {taskId} now answers 500\n");
});

app.MapPost("/recover", () =>
{
    Volatile.Write(ref sick, false);
    Volatile.Write(ref faulty, false);
    return Results.Text($"task {taskId} recovered\n");
});

app.MapGet("/abort", (HttpContext context) => context.Abort());

app.MapGet("/echo", (HttpRequest request) => Results.Ok(new
{
    service,
    task = taskId,
    method = request.Method,
    path = request.Path.Value,
    query = request.QueryString.Value,
    headers = request.Headers.ToDictionary(h => h.Key, h => h.Value.ToString(), StringComparer.OrdinalIgnoreCase),
}));

app.MapGet("/sse", async (HttpContext context, int? count, CancellationToken cancellation) =>
{
    context.Response.ContentType = "text/event-stream";
    for (var i = 0; i < Math.Clamp(count ?? 3, 1, 1000); i++)
    {
        await context.Response.WriteAsync($"id: {i}\ndata: {taskId} {i}\n\n", cancellation);
        await context.Response.Body.FlushAsync(cancellation);
        await Task.Delay(100, cancellation);
    }
});

app.Map("/ws", async (HttpContext context) =>
{
    if (!context.WebSockets.IsWebSocketRequest)
    {
        context.Response.StatusCode = 400;
        return;
    }

    using var socket = await context.WebSockets.AcceptWebSocketAsync();
    var buffer = new byte[4096];
    while (true)
    {
        var received = await socket.ReceiveAsync(buffer, context.RequestAborted);
        if (received.MessageType == WebSocketMessageType.Close)
        {
            await socket.CloseAsync(WebSocketCloseStatus.NormalClosure, "bye", context.RequestAborted);
            return;
        }

        await socket.SendAsync(buffer.AsMemory(0, received.Count), received.MessageType, received.EndOfMessage, context.RequestAborted);
    }
});

app.MapPost("/upload", async (HttpRequest request, CancellationToken cancellation) =>
{
    var buffer = new byte[64 * 1024];
    long total = 0;
    int read;
    while ((read = await request.Body.ReadAsync(buffer, cancellation)) > 0)
    {
        total += read;
    }

    return Results.Ok(new { task = taskId, bytes = total });
});

app.MapFallback((HttpContext context) => context.Request.Method == HttpMethods.Get || context.Request.Method == HttpMethods.Head
    ? Results.Ok(new { service, task = taskId, path = context.Request.Path.Value, time = DateTimeOffset.UtcNow })
    : Results.StatusCode(405));

app.Run();
