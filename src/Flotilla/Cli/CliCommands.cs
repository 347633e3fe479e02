using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using Flotilla.Api;
using Flotilla.Hosting;

namespace Flotilla.Cli;

/// <summary>The <c>flotilla</c> command line. Every command but <c>up</c> and <c>validate</c> talks to a running instance's admin API.</summary>
internal static partial class CliCommands
{
    private static readonly Option<string?> AdminOption = new("--admin")
    {
        Description = "Admin API URL of a running Flotilla (default: found through the state directory). Needs FLOTILLA_TOKEN.",
        Recursive = true,
    };

    private static readonly Option<string?> StateDirOption = new("--state-dir")
    {
        Description = "State directory of a running Flotilla (default: .flotilla/ in the current directory or a parent).",
        Recursive = true,
    };

    private static readonly Option<bool> JsonOption = new("--json") { Description = "Print the API's JSON instead of a table." };

    public static RootCommand Build()
    {
        var root = new RootCommand("Flotilla runs a team's services on their own machines the way a cloud does: a load balancer, a scheduler that keeps N healthy replicas, and the tools to watch them.")
        {
            AdminOption,
            StateDirOption,
            Up(),
            Validate(),
            Ps(),
            Services(),
            Events(),
            Scale(),
            Stop(),
            Targets(),
            Weight(),
            Apply(),
            Deploy(),
            Rollback(),
            Revisions(),
            Deployments(),
            Rollout(),
            Autoscaling(),
        };
        return root;
    }

    private static Command Up()
    {
        var spec = new Argument<string>("spec") { Description = "The spec file, e.g. samples/flotilla.yaml." };
        var logLevel = new Option<LogLevel>("--log-level") { Description = "Least severe log level to print.", DefaultValueFactory = _ => LogLevel.Information };
        var command = new Command("up", "Validate SPEC, then run its fleet in the foreground until Ctrl-C or SIGTERM.") { spec, logLevel };
        command.SetAction((parse, _) =>
            FleetHost.RunAsync(parse.GetRequiredValue(spec), parse.GetValue(StateDirOption), parse.GetValue(logLevel), Console.Out, Console.Error));
        return command;
    }

    private static Command Validate()
    {
        var spec = new Argument<string>("spec") { Description = "The spec file." };
        var command = new Command("validate", "Check SPEC and print every error with its line; exit 2 if there is any.") { spec };
        command.SetAction(parse =>
        {
            var file = parse.GetRequiredValue(spec);
            var document = FleetHost.LoadSpec(file, Console.Error);
            if (document is null)
            {
                return FleetHost.ExitInvalidSpec;
            }

            Console.WriteLine($"{file}: valid ({document.Spec.Services.Length} services, {document.Spec.Listeners.Length} listeners)");
            return FleetHost.ExitOk;
        });
        return command;
    }

    private static Command Ps()
    {
        var service = new Option<string?>("--service", "-s") { Description = "Only this service's tasks." };
        var all = new Option<bool>("--all", "-a") { Description = "Include stopped tasks, with why they stopped." };
        var command = new Command("ps", "List tasks.") { service, all, JsonOption };
        command.SetAction((parse, _) => WithClient(parse, async client =>
        {
            var query = $"api/v1/tasks?state={(parse.GetValue(all) ? "all" : "live")}" + (parse.GetValue(service) is { } s ? $"&service={Uri.EscapeDataString(s)}" : "");
            if (parse.GetValue(JsonOption))
            {
                Output.Line(await client.GetRawAsync(query));
                return;
            }

            var tasks = await client.GetAsync(query, FlotillaJson.Default.ListTaskDto);
            var now = DateTimeOffset.UtcNow;
            Output.Table(
                ["ID", "SERVICE", "REV", "STATE", "HEALTH", "PORT", "PID", "AGE", "STOPPED REASON"],
                tasks.Select(t => (IReadOnlyList<string>)
                [
                    t.Id, t.Service, Output.Number(t.Revision), t.State, t.State == "stopped" ? "-" : t.Health, Output.Number(t.Port), Output.Number(t.Pid),
                    Output.Age(t.CreatedAt, now), t.StoppedReason ?? "",
                ]));
        }));
        return command;
    }

    private static Command Services()
    {
        var command = new Command("services", "List services with their desired, running and healthy counts.") { JsonOption };
        command.SetAction((parse, _) => WithClient(parse, async client =>
        {
            if (parse.GetValue(JsonOption))
            {
                Output.Line(await client.GetRawAsync("api/v1/services"));
                return;
            }

            var services = await client.GetAsync("api/v1/services", FlotillaJson.Default.ListServiceDto);
            Output.Table(
                ["NAME", "REV", "DESIRED", "RUNNING", "HEALTHY", "STATUS", "LB"],
                services.Select(s => (IReadOnlyList<string>)
                [
                    s.Name, Output.Number(s.Revision), Output.Number(s.Desired), Output.Number(s.Running), Output.Number(s.Healthy), s.Status, s.LoadBalancing,
                ]));
        }));
        return command;
    }

    private static Command Events()
    {
        var since = new Option<string?>("--since") { Description = "Only events after this event id (42), within this duration (5m) or after this time (ISO 8601)." };
        var service = new Option<string?>("--service", "-s") { Description = "Only this service's events." };
        var follow = new Option<bool>("--follow", "-f") { Description = "Keep printing new events until Ctrl-C." };
        var command = new Command("events", "Show what the fleet did and saw, oldest first.") { since, service, follow, JsonOption };
        command.SetAction((parse, cancellation) => WithClient(parse, async client =>
        {
            var filter = parse.GetValue(service) is { } s ? $"&service={Uri.EscapeDataString(s)}" : "";
            var cursor = parse.GetValue(since);
            do
            {
                var query = "api/v1/events?limit=1000" + (cursor is null ? "" : $"&since={Uri.EscapeDataString(cursor)}") + filter;
                var events = await client.GetAsync(query, FlotillaJson.Default.ListEventDto);
                foreach (var e in events)
                {
                    Output.Line(parse.GetValue(JsonOption)
                        ? JsonSerializer.Serialize(e, FlotillaJson.Default.EventDto).ReplaceLineEndings("")
                        : $"{e.Time.ToLocalTime():yyyy-MM-dd HH:mm:ss}  {(e.Warning ? "WARN" : "    ")}  {e.Message}");
                }

                if (events.Count > 0)
                {
                    cursor = events[^1].Id.ToString(CultureInfo.InvariantCulture);
                }
                else
                {
                    // --follow keeps the cursor an event id so that nothing is missed between polls.
                    cursor ??= "0";
                }

                if (parse.GetValue(follow))
                {
                    await Task.Delay(TimeSpan.FromSeconds(1), cancellation);
                }
            }
            while (parse.GetValue(follow) && !cancellation.IsCancellationRequested);
        }));
        return command;
    }

    private static Command Scale()
    {
        var service = new Argument<string>("service") { Description = "The service to scale." };
        var desired = new Argument<int>("desired") { Description = "The number of tasks to keep running." };
        var command = new Command("scale", "Set a service's desired count of tasks.") { service, desired, JsonOption };
        command.SetAction((parse, _) => WithClient(parse, async client =>
        {
            var name = parse.GetRequiredValue(service);
            var body = JsonSerializer.Serialize(new ScaleRequest(parse.GetRequiredValue(desired)), FlotillaJson.Default.ScaleRequest);
            var path = $"api/v1/services/{Uri.EscapeDataString(name)}/scale";
            if (parse.GetValue(JsonOption))
            {
                Output.Line(await client.PostRawAsync(path, body));
                return;
            }

            var result = await client.PostAsync(path, body, FlotillaJson.Default.ServiceDto);
            Output.Line($"service {result.Name}: desired {result.Desired} ({result.Running} running, {result.Healthy} healthy)");
        }));
        return command;
    }

    private static Command Stop()
    {
        var task = new Argument<string>("task") { Description = "The task id, e.g. shop-2." };
        var command = new Command("stop", "Stop a task (stopped reason: stopped by user); the scheduler replaces it to keep the desired count.") { task, JsonOption };
        command.SetAction((parse, _) => WithClient(parse, async client =>
        {
            var path = $"api/v1/tasks/{Uri.EscapeDataString(parse.GetRequiredValue(task))}/stop";
            if (parse.GetValue(JsonOption))
            {
                Output.Line(await client.PostRawAsync(path, null));
                return;
            }

            var result = await client.PostAsync(path, null, FlotillaJson.Default.TaskDto);
            Output.Line($"task {result.Id}: {result.State} ({result.StoppedReason})");
        }));
        return command;
    }

    private static Command Targets()
    {
        var service = new Argument<string>("service") { Description = "The service." };
        var command = new Command("targets", "Show what the load balancer makes of a service's tasks: eligible, ready, ejected, draining, in flight, weight, latency.") { service, JsonOption };
        command.SetAction((parse, _) => WithClient(parse, async client =>
        {
            var path = $"api/v1/services/{Uri.EscapeDataString(parse.GetRequiredValue(service))}/targets";
            if (parse.GetValue(JsonOption))
            {
                Output.Line(await client.GetRawAsync(path));
                return;
            }

            var targets = await client.GetAsync(path, FlotillaJson.Default.TargetsDto);
            Output.Line($"service {targets.Service}: {targets.Algorithm}{(targets.Panic ? ", PANIC MODE (routing to every known task)" : "")}");
            Output.Table(
                ["TASK", "PORT", "ELIGIBLE", "READY", "EJECTED", "DRAINING", "IN FLIGHT", "WEIGHT", "LATENCY"],
                targets.Targets.Select(t => (IReadOnlyList<string>)
                [
                    t.Task, Output.Number(t.Port), t.Eligible ? "yes" : "no", t.Ready ? "yes" : "no",
                    t.EjectedForSeconds is { } s ? $"{s:0}s left ({t.TimesEjected}x)" : "-", t.Draining ? "yes" : "-",
                    Output.Number(t.InFlight), t.EffectiveWeight == t.Weight ? Output.Number(t.Weight) : $"{t.EffectiveWeight:0.##}/{t.Weight}",
                    t.LatencyEwmaMs is { } ms ? $"{ms:0.#}ms" : "-",
                ]));
        }));
        return command;
    }

    private static Command Weight()
    {
        var task = new Argument<string>("task") { Description = "The task id, e.g. shop-2." };
        var weight = new Argument<int>("weight") { Description = "Its relative share under weighted algorithms, 1 to 256." };
        var command = new Command("weight", "Set a task's weight for weighted_round_robin (and the weighted least-requests family).") { task, weight, JsonOption };
        command.SetAction((parse, _) => WithClient(parse, async client =>
        {
            var path = $"api/v1/tasks/{Uri.EscapeDataString(parse.GetRequiredValue(task))}/weight";
            var body = $"{{\"weight\": {parse.GetRequiredValue(weight).ToString(CultureInfo.InvariantCulture)}}}";
            if (parse.GetValue(JsonOption))
            {
                Output.Line(await client.PostRawAsync(path, body));
                return;
            }

            var result = await client.PostAsync(path, body, FlotillaJson.Default.TaskDto);
            Output.Line($"task {result.Id}: weight {result.Weight}");
        }));
        return command;
    }

    private static async Task<int> WithClient(ParseResult parse, Func<AdminClient, Task> action)
    {
        try
        {
            using var client = AdminClient.Connect(parse.GetValue(AdminOption), parse.GetValue(StateDirOption));
            await action(client);
            return FleetHost.ExitOk;
        }
        catch (CliException e)
        {
            Console.Error.WriteLine($"flotilla: {e.Message}");
            return FleetHost.ExitFailure;
        }
        catch (OperationCanceledException)
        {
            return FleetHost.ExitOk;
        }
    }
}
