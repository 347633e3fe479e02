using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using Flotilla.Api;

namespace Flotilla.Cli;

/// <summary>The commands that change what a fleet runs, and follow the change: apply, deploy, rollback, rollout status.</summary>
internal static partial class CliCommands
{
    private static Command Apply()
    {
        var spec = new Argument<string>("spec") { Description = "The spec file to make the running fleet match." };
        var dryRun = new Option<bool>("--dry-run") { Description = "Print the plan only." };
        var command = new Command("apply", "Diff the running fleet against SPEC, print the plan (services added, removed, changed, field by field), then carry it out.") { spec, dryRun, JsonOption };
        command.SetAction((parse, _) => WithClient(parse, async client =>
        {
            var file = parse.GetRequiredValue(spec);
            string text;
            try
            {
                text = await File.ReadAllTextAsync(file);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw new CliException($"{file}: cannot read the spec: {e.Message}");
            }

            var request = new ApplyRequest(text, file, Path.GetDirectoryName(Path.GetFullPath(file)), parse.GetValue(dryRun));
            var (status, body) = await client.SendForStatusAsync(HttpMethod.Post, "api/v1/apply", JsonSerializer.Serialize(request, DeploymentJson.Default.ApplyRequest));
            if (status is not (200 or 400 or 409))
            {
                throw new CliException(AdminClient.ProblemDetail(body) ?? $"apply failed with HTTP {status}");
            }

            var result = JsonSerializer.Deserialize(body, DeploymentJson.Default.ApplyResultDto)!;
            if (parse.GetValue(JsonOption))
            {
                Output.Line(body.TrimEnd());
            }
            else
            {
                PrintPlan(result, parse.GetValue(dryRun));
            }

            if (status != 200)
            {
                throw new CliException(status == 400 ? "the spec has errors; nothing was applied" : "nothing was applied");
            }
        }));
        return command;
    }

    private static void PrintPlan(ApplyResultDto result, bool dryRun)
    {
        foreach (var error in result.Errors)
        {
            Console.Error.WriteLine(error);
        }

        foreach (var service in result.Services)
        {
            var what = service.Action switch
            {
                "add" => "will be added",
                "remove" => "will be removed (its tasks drained and stopped)",
                _ => service.TaskDefinitionChanges.Count > 0 ? "will get a new revision, rolled out by a deployment" : "will be updated in place",
            };
            Output.Line($"service {service.Name} {what}");
            foreach (var change in service.TaskDefinitionChanges.Concat(service.ServiceChanges))
            {
                Output.Line($"    {change}");
            }
        }

        foreach (var change in result.ListenerChanges)
        {
            Output.Line($"listener change: {change}");
        }

        foreach (var change in result.AccessLogChanges)
        {
            Output.Line($"access log change: {change}");
        }

        foreach (var refused in result.Refused)
        {
            Console.Error.WriteLine($"needs a restart: {refused}");
        }

        if (result.Summary.Length > 0)
        {
            Output.Line(result.Applied ? $"applied: {result.Summary}" : dryRun ? $"plan (not applied): {result.Summary}" : $"not applied: {result.Summary}");
        }
    }

    private static Command Deploy()
    {
        var service = new Argument<string>("service") { Description = "The service to deploy." };
        var env = new Option<string[]>("--env") { Description = "Set an environment variable, NAME=VALUE (repeatable).", AllowMultipleArgumentsPerToken = false };
        var unset = new Option<string[]>("--unset-env") { Description = "Remove an environment variable (repeatable)." };
        var command = new Option<string[]>("--command") { Description = "The new command: the program and its arguments.", AllowMultipleArgumentsPerToken = true };
        var deploy = new Command("deploy", "Deploy a quick change of a service's task definition: a new revision, rolled out with the service's deployment strategy.") { service, env, unset, command, JsonOption };
        deploy.SetAction((parse, _) => WithClient(parse, async client =>
        {
            var variables = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var pair in parse.GetValue(env) ?? [])
            {
                var eq = pair.IndexOf('=', StringComparison.Ordinal);
                if (eq <= 0)
                {
                    throw new CliException($"--env takes NAME=VALUE, got '{pair}'");
                }

                variables[pair[..eq]] = pair[(eq + 1)..];
            }

            var commandValue = parse.GetValue(command);
            var request = new DeployRequest(commandValue is { Length: > 0 } ? commandValue : null, variables.Count > 0 ? variables : null, parse.GetValue(unset));
            var path = $"api/v1/services/{Uri.EscapeDataString(parse.GetRequiredValue(service))}/deployments";
            var body = await client.PostRawAsync(path, JsonSerializer.Serialize(request, DeploymentJson.Default.DeployRequest));
            PrintDeployment(parse, body);
        }));
        return deploy;
    }

    private static Command Rollback()
    {
        var service = new Argument<string>("service") { Description = "The service to roll back." };
        var to = new Option<int?>("--to") { Description = "The revision to go back to (default: the last one whose deployment completed before the current)." };
        var command = new Command("rollback", "Deploy an earlier revision again; during a blue/green bake, traffic moves back at once.") { service, to, JsonOption };
        command.SetAction((parse, _) => WithClient(parse, async client =>
        {
            var path = $"api/v1/services/{Uri.EscapeDataString(parse.GetRequiredValue(service))}/rollback";
            var body = await client.PostRawAsync(path, JsonSerializer.Serialize(new RollbackRequest(parse.GetValue(to)), DeploymentJson.Default.RollbackRequest));
            PrintDeployment(parse, body);
        }));
        return command;
    }

    private static void PrintDeployment(ParseResult parse, string body)
    {
        if (parse.GetValue(JsonOption))
        {
            Output.Line(body);
            return;
        }

        var d = JsonSerializer.Deserialize(body, DeploymentJson.Default.DeploymentDto)!;
        Output.Line($"deployment {d.Id} of {d.Service} started: revision {(d.FromRevision?.ToString(CultureInfo.InvariantCulture) ?? "-")} → {d.ToRevision} ({d.Strategy}); follow it with `flotilla rollout status {d.Service}`");
    }

    private static Command Revisions()
    {
        var service = new Argument<string>("service") { Description = "The service." };
        var command = new Command("revisions", "List a service's revisions and what changed in each.") { service, JsonOption };
        command.SetAction((parse, _) => WithClient(parse, async client =>
        {
            var path = $"api/v1/services/{Uri.EscapeDataString(parse.GetRequiredValue(service))}/revisions";
            if (parse.GetValue(JsonOption))
            {
                Output.Line(await client.GetRawAsync(path));
                return;
            }

            var now = DateTimeOffset.UtcNow;
            var revisions = await client.GetAsync(path, DeploymentJson.Default.ListRevisionDto);
            Output.Table(
                ["REV", "CURRENT", "AGE", "CAUSE", "CHANGES"],
                revisions.Select(r => (IReadOnlyList<string>)
                [
                    Output.Number(r.Number), r.Current ? "*" : "", Output.Age(r.CreatedAt, now), r.Cause, r.Changes.Count == 0 ? "-" : string.Join("; ", r.Changes),
                ]));
        }));
        return command;
    }

    private static Command Deployments()
    {
        var service = new Argument<string>("service") { Description = "The service." };
        var command = new Command("deployments", "List a service's deployments, newest first, with how each ended.") { service, JsonOption };
        command.SetAction((parse, _) => WithClient(parse, async client =>
        {
            var path = $"api/v1/services/{Uri.EscapeDataString(parse.GetRequiredValue(service))}/deployments";
            if (parse.GetValue(JsonOption))
            {
                Output.Line(await client.GetRawAsync(path));
                return;
            }

            var now = DateTimeOffset.UtcNow;
            var deployments = await client.GetAsync(path, DeploymentJson.Default.ListDeploymentDto);
            Output.Table(
                ["ID", "REV", "STRATEGY", "STATUS", "AGE", "CAUSE", "OUTCOME"],
                deployments.Select(d => (IReadOnlyList<string>)
                [
                    Output.Number(d.Id), $"{d.FromRevision?.ToString(CultureInfo.InvariantCulture) ?? "-"} → {d.ToRevision}", d.Strategy, d.Status,
                    Output.Age(d.StartedAt, now), d.Cause, d.Outcome ?? "",
                ]));
        }));
        return command;
    }

    private static Command Rollout()
    {
        var service = new Argument<string>("service") { Description = "The service whose deployment to follow." };
        var id = new Option<int?>("--deployment") { Description = "The deployment to follow (default: the latest one a person began; an automatic rollback is reported as the fate of the deployment it undid)." };
        var status = new Command("status", "Follow a deployment live until it ends; exit 0 only if it completes.") { service, id };
        status.SetAction((parse, cancellation) => WithClient(parse, async client =>
        {
            var name = Uri.EscapeDataString(parse.GetRequiredValue(service));
            var deployment = parse.GetValue(id) ?? LatestByAPerson(await client.GetAsync($"api/v1/services/{name}/deployments", DeploymentJson.Default.ListDeploymentDto))
                ?? throw new CliException($"{parse.GetRequiredValue(service)} has no deployments");
            var last = "";
            while (true)
            {
                var d = await client.GetAsync($"api/v1/services/{name}/deployments/{deployment}", DeploymentJson.Default.DeploymentDto);
                var line = ProgressLine(d);
                if (line != last)
                {
                    Output.Line(line);
                    last = line;
                }

                if (d.Status != "in_progress")
                {
                    Output.Line($"deployment {d.Id} {d.Status.ToUpperInvariant()}: {d.Outcome}");
                    if (d.Status != "completed")
                    {
                        throw new CliException($"deployment {d.Id} of {d.Service} did not complete ({d.Status})");
                    }

                    return;
                }

                await Task.Delay(TimeSpan.FromMilliseconds(500), cancellation);
            }
        }));
        return new Command("rollout", "Follow deployments.") { status };
    }

    /// <summary>
    /// The deployment a person is waiting on: the newest, unless it is a rollback Flotilla began itself, which answers for
    /// the deployment it undid — so that <c>deploy</c> then <c>rollout status</c> says ROLLED_BACK, not COMPLETED.
    /// </summary>
    private static int? LatestByAPerson(List<DeploymentDto> newestFirst) =>
        newestFirst.FirstOrDefault() is { Automatic: true, RollbackOf: { } undone } ? undone : newestFirst.FirstOrDefault()?.Id;

    /// <summary>
    /// One line per change of a deployment's progress: a bar of the new revision's healthy tasks out of desired, and the
    /// counts that explain where it stands.
    /// </summary>
    private static string ProgressLine(DeploymentDto d)
    {
        const int Width = 20;
        var done = d.Desired == 0 ? Width : Math.Min(Width, d.NewHealthy * Width / d.Desired);
        var bar = new string('#', done) + new string('-', Width - done);
        var step = d.Step is null ? "" : $" · canary step {d.Step}";
        var traffic = d.Traffic is null ? "" : " · traffic " + string.Join(" ", d.Traffic.Select(kv => $"rev {kv.Key}: {kv.Value}%"));
        return $"deployment {d.Id} ({d.Strategy}, revision {d.FromRevision?.ToString(CultureInfo.InvariantCulture) ?? "-"} → {d.ToRevision}) [{bar}] "
            + $"new {d.NewHealthy}/{d.Desired} healthy ({d.NewRunning} running) · old {d.OldHealthy} healthy ({d.OldRunning} running) · draining {d.Draining}"
            + $" · failed {d.FailedTasks}/{d.FailureThreshold}{step}{traffic}";
    }
}
