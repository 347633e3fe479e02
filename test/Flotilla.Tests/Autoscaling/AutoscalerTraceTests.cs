using System.Collections.Immutable;
using Flotilla.Core.Autoscaling;
using Flotilla.Core.Metrics;
using Flotilla.Core.Spec;

namespace Flotilla.Tests.Autoscaling;

/// <summary>The issue's synthetic traces, second by second through a metric store, the scheduler and the decider, on a fake clock.</summary>
public sealed class AutoscalerTraceTests
{
    private static readonly TimeSpan Interval = new AutoscalingSpec().EvaluationInterval;

    [Fact]
    public void Decide_FlashSaleTenfoldInFiveSeconds_ScalesOutWithinOneEvaluationToTheNeededCount()
    {
        var sim = new ScalingSimulation(Policies.Concurrency(max: 40), desired: 3);
        sim.Run(TimeSpan.FromMinutes(2), _ => 15);
        var saleStart = sim.Now;

        sim.Run(TimeSpan.FromMinutes(5), s => s < 5 ? 15 + (135 * s / 5) : 150);

        var changes = sim.Changes.ToList();
        Assert.NotEmpty(changes);
        Assert.True(changes[0].At - saleStart <= Interval, $"first scale-out {changes[0].At - saleStart} after the sale began");
        Assert.Matches(@"^scaled shop 3 → \d+: active_requests [\d.]+ per target > target 5 \(policy concurrency\)$", sim.Events.First(e => e.Message.StartsWith("scaled", StringComparison.Ordinal)).Message);
        Assert.All(changes, c => Assert.True(c.To > c.From, $"{c.From} → {c.To}"));
        Assert.Equal(30, sim.Desired);
        Assert.True(changes[^1].At - saleStart <= 2 * Interval, $"at 30 only {changes[^1].At - saleStart} after the sale began");
    }

    [Fact]
    public void Decide_FlashSaleBeyondMax_StopsAtMax()
    {
        var sim = new ScalingSimulation(Policies.Concurrency(max: 20), desired: 3);
        sim.Run(TimeSpan.FromMinutes(2), _ => 15);

        sim.Run(TimeSpan.FromMinutes(3), s => s < 5 ? 15 + (135 * s / 5) : 150);

        Assert.Equal(20, sim.Desired);
        Assert.Contains("capped at max 20 (wanted", sim.Changes.Last().Reason);
        Assert.Equal("holding at 20: active_requests 7.5 per target > target 5 (policy concurrency); at max 20 (wanted 30)", sim.Last.Reason);
    }

    [Fact]
    public void Decide_NoisySteadyTrace_NeverScales()
    {
        var random = new Random(20261123);
        var sim = new ScalingSimulation(Policies.Concurrency(), desired: 3);

        sim.Run(TimeSpan.FromHours(1), (_, tasks) =>
        {
            foreach (var task in tasks)
            {
                sim.Store.SetGauge(ScalingSimulation.Service, task.Id, Metric.InFlight, 5 * (0.8 + (0.4 * random.NextDouble())));
            }
        });

        Assert.Empty(sim.Changes);
        Assert.Equal(3, sim.Desired);
        Assert.Contains("within 10% of target 5", sim.Last.Reason);
    }

    [Fact]
    public void Decide_SlowDecay_ScalesInOneTaskPerScaleInCooldown()
    {
        var spec = Policies.Concurrency();
        var sim = new ScalingSimulation(spec, desired: 10);

        // 50 to 5 requests in flight over 20 minutes: the load alone would drop a task every 2m13s.
        sim.Run(TimeSpan.FromMinutes(60), s => Math.Max(5, 50 - (45 * s / 1200)));

        var changes = sim.Changes.ToList();
        Assert.Equal(9, changes.Count);
        Assert.All(changes, c => Assert.Equal(c.From - 1, c.To));
        Assert.All(changes.Zip(changes.Skip(1)), pair => Assert.True(pair.Second.At - pair.First.At >= spec.ScaleInCooldown, $"{pair.First.At:T} then {pair.Second.At:T}"));
        Assert.Equal(1, sim.Desired);
        Assert.Contains(sim.Decisions, d => d.Decision.Reason.StartsWith("holding at ", StringComparison.Ordinal) && d.Decision.Reason.Contains("scale-in cooldown, ", StringComparison.Ordinal));
    }

    [Fact]
    public void Decide_MissingMetric_BlocksScaleInButNotScaleOut()
    {
        var spec = new AutoscalingSpec
        {
            Max = 40,
            Policies = [Policies.Tracking("concurrency", "active_requests", 5), Policies.Tracking("backlog", "queue_depth", 100, perTask: true)],
        };
        var sim = new ScalingSimulation(spec, desired: 4);

        sim.Run(TimeSpan.FromMinutes(15), _ => 4);

        Assert.Empty(sim.Changes);
        Assert.Equal("holding at 4: no scale-in while a metric is missing: no queue_depth data in the window (policy backlog)", sim.Last.Reason);

        sim.Run(TimeSpan.FromMinutes(1), _ => 60);

        Assert.Equal(12, sim.Desired);
        Assert.Equal("active_requests 15 per target > target 5 (policy concurrency)", sim.Changes.Single().Reason);
    }

    [Fact]
    public void Decide_LoadGone_StopsAtMinWithTheReason()
    {
        var spec = Policies.Concurrency(min: 2) with { ScaleInCooldown = TimeSpan.FromSeconds(30) };
        var sim = new ScalingSimulation(spec, desired: 5);

        sim.Run(TimeSpan.FromMinutes(10), _ => 0);

        Assert.Equal(2, sim.Desired);
        Assert.Equal([5, 4, 3], sim.Changes.Select(c => c.From));
        Assert.Equal("active_requests 0 per target < target 5 (policy concurrency); at most 1 per scale-in cooldown (30s)", sim.Changes.First().Reason);
        Assert.Equal("holding at 2: at min 2; active_requests 0 per target < target 5 (policy concurrency)", sim.Last.Reason);
    }

    [Fact]
    public void Decide_AfterStart_WaitsAScaleInCooldownBeforeTheFirstScaleIn()
    {
        var spec = Policies.Concurrency();
        var sim = new ScalingSimulation(spec, desired: 5);

        sim.Run(TimeSpan.FromMinutes(6), _ => 0);

        var first = sim.Changes.First();
        Assert.True(first.At - sim.Decisions[0].At >= spec.ScaleInCooldown, $"first scale-in {first.At - sim.Decisions[0].At} after the first evaluation");
    }

    [Fact]
    public void Decide_NoTaskInServiceYet_DoesNotReadAnIdleLoadBalancerAsNoDemand()
    {
        var spec = Policies.Concurrency();
        var policies = ScalingPolicies.Create(spec);
        var now = new DateTimeOffset(2026, 11, 23, 10, 0, 0, TimeSpan.Zero);
        var state = AutoscalerState.Initial with { LastEvaluatedAt = now.AddSeconds(-15), LastDesired = 3, LastChangeAt = now.AddHours(-1) };
        var inputs = new ScalingInputs(now, 3, 0, ImmutableDictionary<string, MetricReading>.Empty.Add("active_requests", new MetricReading { Service = 0 }));

        var decision = AutoscalerDecider.Decide(spec, policies, inputs, state);

        Assert.Null(decision.NewDesired);
        Assert.Equal("holding at 3: no scale-in while a metric is missing: active_requests 0 with no task in service, target 5 per task (policy concurrency)", decision.Reason);
    }

    [Fact]
    public void Decide_NewTasksWarmingUp_CountAtTheTargetInsteadOfTheirOwnCpu()
    {
        var withWarmup = CpuSpike(TimeSpan.FromSeconds(60));
        var without = CpuSpike(TimeSpan.Zero);

        Assert.Equal(4, withWarmup.Desired);
        Assert.Equal([(2, 4)], withWarmup.Changes.Select(c => (c.From, c.To)));
        Assert.Contains(withWarmup.Decisions, d => d.Decision.Reason.EndsWith(", 2 warming up at the target, within 10% of target 50% (policy cpu)", StringComparison.Ordinal));
        Assert.True(without.Desired > 4, $"without warm-up, the new tasks' start-up CPU should have added more; desired {without.Desired}");
    }

    [Fact]
    public void Decide_DeploymentInProgress_BlocksScaleInOnly()
    {
        var spec = Policies.Concurrency() with { ScaleInCooldown = TimeSpan.Zero };
        var sim = new ScalingSimulation(spec, desired: 4);
        sim.Deploy(startup: TimeSpan.FromMinutes(10));

        sim.Run(TimeSpan.FromMinutes(2), _ => 5);

        Assert.NotNull(sim.Fleet.Services[ScalingSimulation.Service].ActiveDeployment);
        Assert.Equal(4, sim.Desired);
        Assert.StartsWith("holding at 4: no scale-in while a deployment is in progress", sim.Last.Reason);

        sim.Run(TimeSpan.FromMinutes(1), _ => 40);

        Assert.Equal(8, sim.Desired);
    }

    [Fact]
    public void Decide_CountChangedByHand_IsKeptForAScaleInCooldownThenScaledIn()
    {
        var spec = Policies.Concurrency();
        var sim = new ScalingSimulation(spec, desired: 2);
        sim.Run(TimeSpan.FromMinutes(6), _ => 10);

        sim.ScaleByHand(6);
        var byHand = sim.Now;
        sim.Run(TimeSpan.FromMinutes(10), _ => 10);

        var change = Assert.Single(sim.Changes);
        Assert.Equal((6, 5), (change.From, change.To));
        Assert.True(change.At - byHand >= spec.ScaleInCooldown, $"scaled in {change.At - byHand} after the hand");
    }

    [Fact]
    public void Decide_BacklogPerTaskWithMinZero_ScalesFromZeroToNAndBackToZero()
    {
        var spec = new AutoscalingSpec
        {
            Min = 0,
            Max = 5,
            ScaleInCooldown = TimeSpan.FromSeconds(30),
            MaxScaleInStep = 5,
            Policies = [Policies.Tracking("backlog", "queue_depth", 10, perTask: true)],
        };
        var sim = new ScalingSimulation(spec, desired: 0);
        sim.Run(TimeSpan.FromMinutes(1), (_, _) => sim.Store.PutCustom(ScalingSimulation.Service, "queue_depth", 0));
        Assert.Equal(0, sim.Desired);

        sim.Run(TimeSpan.FromMinutes(1), (_, _) => sim.Store.PutCustom(ScalingSimulation.Service, "queue_depth", 45));

        Assert.Equal(5, sim.Desired);
        Assert.Equal("queue_depth 45 with no task in service, target 10 per task (policy backlog)", sim.Changes.First().Reason);

        sim.Run(TimeSpan.FromMinutes(2), (_, _) => sim.Store.PutCustom(ScalingSimulation.Service, "queue_depth", 0));

        Assert.Equal(0, sim.Desired);
        Assert.Equal([(0, 5), (5, 0)], sim.Changes.Select(c => (c.From, c.To)));
    }

    /// <summary>
    /// Two tasks at 90% CPU against a target of 50% ask for 4; the two new ones burn 100% for their first 30 s (JIT, caches),
    /// while the real load, 180% in all, is shared evenly among the tasks in service.
    /// </summary>
    private static ScalingSimulation CpuSpike(TimeSpan warmup)
    {
        var spec = new AutoscalingSpec { Max = 20, Warmup = warmup, Policies = [Policies.Tracking("cpu", "cpu", 50)] };
        var sim = new ScalingSimulation(spec, desired: 2);
        sim.Run(TimeSpan.FromMinutes(3), (_, tasks) =>
        {
            foreach (var task in tasks)
            {
                var starting = task.Sequence > 2 && sim.Now - task.HealthyAt!.Value < TimeSpan.FromSeconds(30);
                sim.Store.SetGauge(ScalingSimulation.Service, task.Id, Metric.Cpu, starting ? 100 : 180.0 / tasks.Count);
            }
        });
        return sim;
    }
}
