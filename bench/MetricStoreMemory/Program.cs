using System.Diagnostics;
using System.Globalization;
using Flotilla.Core.Metrics;

// Fills a MetricStore as a fleet would over a whole day — requests with log-normal latencies, gauges and a custom
// metric every second — so that both rings are full (the last hour of seconds, the last day of minutes), then reports
// the managed memory the store holds. See bench/README.md.
var options = Options.Parse(args);
var latencies = Latencies(options.MedianMilliseconds, options.Spread);
var clock = new ManualClock(new DateTimeOffset(2026, 11, 22, 0, 0, 0, TimeSpan.Zero));
var services = Enumerable.Range(1, options.Services).Select(s => $"service-{s}").ToArray();
var tasks = services.Select(s => Enumerable.Range(1, options.Tasks).Select(t => $"{s}-{t}").ToArray()).ToArray();

var before = GC.GetTotalMemory(forceFullCollection: true);
var store = new MetricStore(clock);
var recording = new Stopwatch();
var ticking = new Stopwatch();
var next = 0;
var seconds = (int)options.Duration.TotalSeconds;
for (var second = 0; second < seconds; second++)
{
    recording.Start();
    for (var s = 0; s < services.Length; s++)
    {
        foreach (var task in tasks[s])
        {
            for (var r = 0; r < options.Rate; r++)
            {
                next = (next + 1) & (latencies.Length - 1);
                store.RecordRequest(services[s], task, next % 100 == 0 ? 503 : 200, latencies[next]);
            }

            store.SetGauge(services[s], task, Metric.InFlight, next % 7);
            store.SetGauge(services[s], task, Metric.Cpu, 12.5 + (next % 50));
            store.SetGauge(services[s], task, Metric.Rss, 150e6 + (next % 1000 * 4096));
        }

        if (second % 10 == 0)
        {
            store.PutCustom(services[s], "queue_depth", next % 500);
        }
    }

    recording.Stop();
    clock.Now += TimeSpan.FromSeconds(1);
    ticking.Start();
    store.Advance();
    ticking.Stop();

    if (second % 3600 == 3599)
    {
        Console.Error.Write($"\r{(second + 1) / 3600}h of {options.Duration.TotalHours:0}h simulated");
    }
}

Console.Error.WriteLine();
var after = GC.GetTotalMemory(forceFullCollection: true);
var bytes = after - before;
var series = options.Services * (options.Tasks + 1);
var requests = (long)seconds * options.Services * options.Tasks * options.Rate;
Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"""
    fleet:      {options.Services} services x {options.Tasks} tasks, {options.Rate} requests/s per task, latency median {options.MedianMilliseconds} ms, spread {options.Spread} (sigma of ln)
    simulated:  {options.Duration.TotalHours:0} h ({seconds} ticks, {requests:N0} requests)
    store:      {bytes / 1048576.0:0.0} MiB managed ({bytes:N0} bytes) for {series} built-in series, {bytes / series / 1024.0:0} KiB each
    cost:       RecordRequest {(requests == 0 ? "-" : (recording.Elapsed.TotalNanoseconds / requests).ToString("0", CultureInfo.InvariantCulture))} ns (one thread, gauges included), Advance {ticking.Elapsed.TotalMilliseconds / seconds:0.00} ms per tick
    """));
GC.KeepAlive(store);

// Latencies drawn once from a log-normal distribution, so that the loop above costs what recording costs.
static TimeSpan[] Latencies(double medianMilliseconds, double spread)
{
    var random = new Random(1);
    return Enumerable.Range(0, 1 << 16).Select(_ =>
    {
        var normal = Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());
        return TimeSpan.FromMilliseconds(medianMilliseconds * Math.Exp(spread * normal));
    }).ToArray();
}

/// <summary>A clock the simulation moves by hand, a second per tick.</summary>
internal sealed class ManualClock(DateTimeOffset start) : TimeProvider
{
    public DateTimeOffset Now { get; set; } = start;

    public override DateTimeOffset GetUtcNow() => Now;
}

/// <summary>The fleet to simulate; every option has the default the docs' figure was measured with.</summary>
internal sealed record Options(int Services, int Tasks, int Rate, double MedianMilliseconds, double Spread, TimeSpan Duration)
{
    public static Options Parse(string[] args)
    {
        var options = new Options(Services: 20, Tasks: 10, Rate: 20, MedianMilliseconds: 20, Spread: 0.6, Duration: TimeSpan.FromHours(24));
        for (var i = 0; i + 1 < args.Length; i += 2)
        {
            var value = args[i + 1];
            options = args[i] switch
            {
                "--services" => options with { Services = int.Parse(value, CultureInfo.InvariantCulture) },
                "--tasks" => options with { Tasks = int.Parse(value, CultureInfo.InvariantCulture) },
                "--rate" => options with { Rate = int.Parse(value, CultureInfo.InvariantCulture) },
                "--median-ms" => options with { MedianMilliseconds = double.Parse(value, CultureInfo.InvariantCulture) },
                "--spread" => options with { Spread = double.Parse(value, CultureInfo.InvariantCulture) },
                "--hours" => options with { Duration = TimeSpan.FromHours(double.Parse(value, CultureInfo.InvariantCulture)) },
                _ => throw new ArgumentException($"unknown option {args[i]}; options: --services --tasks --rate --median-ms --spread --hours"),
            };
        }

        return options;
    }
}
