using System.Collections.Immutable;
using Flotilla.Core.Fleet;
using Flotilla.Core.Spec;

namespace Flotilla.Core.Deployments;

public enum ServicePlanAction
{
    Add,
    Remove,
    Update,
}

/// <summary>What applying a spec does to one service.</summary>
/// <param name="Name">The service.</param>
/// <param name="Action">Added, removed or updated.</param>
/// <param name="TaskDefinitionChanges">Changes that make a new revision, and so a deployment.</param>
/// <param name="ServiceChanges">Changes that take effect at once (desired, load balancing, deployment settings…).</param>
public sealed record ServicePlan(string Name, ServicePlanAction Action, ImmutableArray<string> TaskDefinitionChanges, ImmutableArray<string> ServiceChanges);

/// <summary>
/// The difference between the running fleet's spec and a new one, as <c>flotilla apply</c> prints it before carrying it
/// out. Changes that need the listening sockets or the admin API bound again, or the load balancer's client limits (Kestrel
/// holds them from its start), are refused as a whole, never half-applied.
/// </summary>
/// <param name="Services">What happens to each service that changes.</param>
/// <param name="ListenerChanges">Listener settings that take effect at once (rules, limits, trust).</param>
/// <param name="AccessLogChanges">The access log's settings, which take effect at once.</param>
/// <param name="Refused">Changes that need a restart; any one of them stops the whole apply.</param>
public sealed record SpecPlan(ImmutableArray<ServicePlan> Services, ImmutableArray<string> ListenerChanges, ImmutableArray<string> AccessLogChanges, ImmutableArray<string> Refused)
{
    public string Summary =>
        $"{Count(ServicePlanAction.Add)} added, {Count(ServicePlanAction.Update)} changed ({Services.Count(s => !s.TaskDefinitionChanges.IsEmpty)} new revisions), "
        + $"{Count(ServicePlanAction.Remove)} removed, {ListenerChanges.Length} listener changes"
        + (AccessLogChanges.IsEmpty ? "" : $", {AccessLogChanges.Length} access-log changes");

    /// <summary>Listener fields that only a restart can change: they are the bound sockets and their TLS.</summary>
    private static readonly string[] RestartFields = ["listen", "protocol", "tls", "http2", "redirect"];

    public static SpecPlan Between(FleetState current, FlotillaSpec next)
    {
        var refused = ImmutableArray.CreateBuilder<string>();
        refused.AddRange(SpecDiff.Compare(current.Spec.Admin, next.Admin, "admin"));
        refused.AddRange(SpecDiff.Compare(current.Spec.LoadBalancer, next.LoadBalancer, "loadBalancer"));
        var accessLog = SpecDiff.Compare(current.Spec.AccessLog, next.AccessLog, "accessLog");

        var listenerChanges = ImmutableArray.CreateBuilder<string>();
        var before = current.Spec.Listeners.Select(l => l.Name).ToList();
        var after = next.Listeners.Select(l => l.Name).ToList();
        if (!before.SequenceEqual(after))
        {
            refused.Add($"listeners: [{string.Join(", ", before)}] → [{string.Join(", ", after)}]");
        }
        else
        {
            for (var i = 0; i < before.Count; i++)
            {
                foreach (var change in SpecDiff.Compare(current.Spec.Listeners[i], next.Listeners[i], $"listeners[{i}]"))
                {
                    var field = change[$"listeners[{i}].".Length..].Split([':', '.', '['])[0];
                    (RestartFields.Contains(field) ? refused : listenerChanges).Add(change);
                }
            }
        }

        var services = ImmutableArray.CreateBuilder<ServicePlan>();
        foreach (var spec in next.Services)
        {
            if (!current.Services.TryGetValue(spec.Name, out var running) || running.Removing)
            {
                services.Add(new ServicePlan(spec.Name, ServicePlanAction.Add, [], []));
                continue;
            }

            var (taskDefinition, serviceChanges) = TaskDefinition.Split(running.Spec, spec);
            var service = serviceChanges.Select(change => Annotate(change, spec)).ToList();
            if (taskDefinition.Count > 0 || service.Count > 0)
            {
                services.Add(new ServicePlan(spec.Name, ServicePlanAction.Update, [.. taskDefinition], [.. service]));
            }
        }

        foreach (var name in current.ServiceOrder.Where(name => next.FindService(name) is null && !current.Services[name].Removing))
        {
            services.Add(new ServicePlan(name, ServicePlanAction.Remove, [], []));
        }

        return new SpecPlan(services.ToImmutable(), listenerChanges.ToImmutable(), [.. accessLog], refused.ToImmutable());
    }

    private int Count(ServicePlanAction action) => Services.Count(s => s.Action == action);

    /// <summary>Says what a plan line will not do: an autoscaled service's count stays the autoscaler's (within min and max).</summary>
    private static string Annotate(string change, ServiceSpec spec) =>
        spec.Autoscaling is { } scaling && change.StartsWith("desired:", StringComparison.Ordinal)
            ? $"{change} (autoscaled: the count stays the autoscaler's, within min {scaling.Min} and max {scaling.Max})"
            : change;
}
