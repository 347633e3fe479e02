// The sample service that Flotilla's sample fleet runs: stateless, quick to start, with endpoints for drills.
//   GET /            JSON with the service, task id and path (any other GET path answers the same way)
//   GET /health      shallow health: 200 while the process serves, 503 after POST /sick
//   GET /health/deep deep health: also checks the URLs in DEPENDS_ON (comma-separated), 503 if one fails
//   GET /work?ms=N   waits N ms (I/O-bound load)
//   GET /cpu?ms=N    burns CPU for N ms (CPU-bound load)
//   GET /fail        500
//   GET /crash       answers, then exits with code 1
//   POST /sick       makes /health fail from now on (to drill health-check replacement)
using System.Diagnostics;

var builder = WebApplication.CreateSlimBuilder(args);
builder.Logging.SetMinimumLevel(LogLevel.Warning);
builder.Services.AddHttpClient();
var app = builder.Build();

var service = Environment.GetEnvironmentVariable("FLOTILLA_SERVICE") ?? "shop";
var taskId = Environment.GetEnvironmentVariable("FLOTILLA_TASK_ID") ?? Environment.MachineName;
var dependencies = (Environment.GetEnvironmentVariable("DEPENDS_ON") ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
var sick = false;

app.Use((context, next) =>
{
    context.Response.Headers["X-Task-Id"] = taskId;
    return next(context);
});

app.MapGet("/health", () => Volatile.Read(ref sick) ? Results.Text("sick\n", statusCode: 503) : Results.Text("ok\n"));

app.MapGet("/health/deep", async (IHttpClientFactory clients, CancellationToken cancellation) =>
{
    if (Volatile.Read(ref sick))
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
    return Results.Text($"task {taskId} now fails /health\n");
});

app.MapFallback((HttpContext context) => context.Request.Method == HttpMethods.Get || context.Request.Method == HttpMethods.Head
    ? Results.Ok(new { service, task = taskId, path = context.Request.Path.Value, time = DateTimeOffset.UtcNow })
    : Results.StatusCode(405));

app.Run();
