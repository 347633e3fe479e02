using Flotilla.Core.Spec;

namespace Flotilla.Tests.Spec;

public sealed class AutoscalingSpecTests
{
    private static SpecLoadResult Load(string yaml) => SpecLoader.Load(yaml, "f.yaml", "/specs");

    private static string Errors(SpecLoadResult result) => string.Join("\n", result.Errors);

    [Fact]
    public void Load_AutoscalingBlock_ReadsEveryFieldAndPolicyKind()
    {
        var result = Load("""
            services:
              shop:
                command: [app]
                resources: { cpu: 0.5, memoryMb: 256 }
                autoscaling:
                  min: 2
                  max: 20
                  scaleOutCooldown: 30s
                  scaleInCooldown: 2m
                  maxScaleInStep: 2
                  warmup: 45s
                  evaluationInterval: 10s
                  policies:
                    - name: concurrency
                      targetTracking: { metric: active_requests, target: 5 }
                    - name: surge
                      step:
                        metric: cpu
                        upper: 80
                        lower: 20
                        adjustments: [{ overPercent: 0, change: 1 }, { overPercent: 50, change: 4 }]
                        datapoints: 2
                        periods: 3
                    - name: morning
                      scheduled: { cron: "45 7 * * 1-5", timeZone: Europe/Paris, min: 4, max: 20, desired: 6 }
                    - name: backlog
                      targetTracking: { metric: queue_depth, target: 100, perTask: true }
            """);

        Assert.True(result.IsValid, Errors(result));
        var shop = result.Document!.Spec.Services.Single();
        Assert.Equal(new ResourcesSpec { Cpu = 0.5, MemoryMb = 256 }, shop.Resources);
        Assert.Equal(2, shop.Desired);
        var scaling = shop.Autoscaling!;
        Assert.Equal(
            (2, 20, TimeSpan.FromSeconds(30), TimeSpan.FromMinutes(2), 2, TimeSpan.FromSeconds(45), TimeSpan.FromSeconds(10)),
            (scaling.Min, scaling.Max, scaling.ScaleOutCooldown, scaling.ScaleInCooldown, scaling.MaxScaleInStep, scaling.Warmup, scaling.EvaluationInterval));
        Assert.Equal(new TargetTrackingSpec { Metric = "active_requests", Target = 5 }, scaling.Policies[0].TargetTracking);
        var step = scaling.Policies[1].Step!;
        Assert.Equal(("cpu", 80.0, 20.0, 2, 3), (step.Metric, step.Upper!.Value, step.Lower!.Value, step.Datapoints, step.Periods));
        Assert.Equal([new StepAdjustmentSpec(0, 1), new StepAdjustmentSpec(50, 4)], step.Adjustments);
        Assert.Equal(new ScheduledScalingSpec { Cron = "45 7 * * 1-5", TimeZone = "Europe/Paris", Min = 4, Max = 20, Desired = 6 }, scaling.Policies[2].Scheduled);
        Assert.True(scaling.Policies[3].TargetTracking!.PerTask);
        Assert.Empty(result.Warnings);
    }

    [Fact]
    public void Load_MinimalAutoscaling_FillsTheDefaultsAndStartsAtMin()
    {
        var result = Load("""
            services:
              worker:
                command: [app]
                autoscaling:
                  max: 5
                  policies: [{ name: cpu, targetTracking: { metric: cpu, target: 60 } }]
            """);

        Assert.True(result.IsValid, Errors(result));
        var worker = result.Document!.Spec.Services.Single();
        Assert.Equal(1, worker.Desired);
        var scaling = worker.Autoscaling!;
        Assert.Equal(
            (1, TimeSpan.FromSeconds(60), TimeSpan.FromSeconds(300), 1, TimeSpan.FromSeconds(60), TimeSpan.FromSeconds(15)),
            (scaling.Min, scaling.ScaleOutCooldown, scaling.ScaleInCooldown, scaling.MaxScaleInStep, scaling.Warmup, scaling.EvaluationInterval));
        Assert.Null(Load("services: { a: { command: [app] } }").Document!.Spec.Services[0].Autoscaling);
    }

    [Fact]
    public void Load_StepWithoutAdjustments_HasTheIssuesSteps()
    {
        var step = new StepScalingSpec();

        Assert.Equal([new StepAdjustmentSpec(0, 1), new StepAdjustmentSpec(10, 3), new StepAdjustmentSpec(25, 5)], step.Adjustments);
        Assert.Equal((3, 3), (step.Datapoints, step.Periods));
    }

    [Fact]
    public void Load_BadAutoscaling_ReportsEveryErrorWithItsLine()
    {
        var result = Load("""
            services:
              shop:
                command: [app]
                desired: 30
                autoscaling:
                  min: 3
                  scaleInCooldown: 2h
                  evaluationInterval: 1500ms
                  policies:
                    - name: Load
                      targetTracking: { metric: requests, target: 0 }
                    - name: mem
                      targetTracking: { metric: memory, target: 70, perTask: true }
                    - name: both
                      targetTracking: { metric: cpu, target: 50 }
                      step: { metric: cpu, upper: 80 }
                    - name: surge
                      step: { metric: p99_latency, upper: 500, lower: 100, adjustments: [{ overPercent: 10, change: 1 }, { overPercent: 5, change: 0 }], datapoints: 4, periods: 3 }
                    - name: morning
                      scheduled: { cron: "45 7 * *", timeZone: Mars/Olympus }
                    - name: mem
                      scheduled: { cron: "0 8 * * *", min: 0 }
            """);

        Assert.False(result.IsValid);
        Assert.Equal(
            [
                "f.yaml:5 services.shop.autoscaling.max: is required: the most tasks the policies may ask for, 1 to 100",
                "f.yaml:6 services.shop.autoscaling.min: scaling to zero needs a targetTracking policy on a custom metric with perTask: true (a queue's backlog): with no task running, nothing else measures the demand that would start one",
                "f.yaml:7 services.shop.autoscaling.scaleInCooldown: must be between 0s and 1h, got 2h",
                "f.yaml:8 services.shop.autoscaling.evaluationInterval: must be whole seconds (the metric store keeps one point per second), got 1.5s",
                "f.yaml:10 services.shop.autoscaling.policies[0].name: must be lower-case letters, digits and '-', starting with a letter, got 'Load'",
                "f.yaml:11 services.shop.autoscaling.policies[0].targetTracking.metric: 'requests' is a metric of the store, not a scaling metric; valid: cpu, memory, requests_per_target, active_requests, p95_latency, p99_latency, or a custom metric's name",
                "f.yaml:11 services.shop.autoscaling.policies[0].targetTracking.target: is required and must be above 0, in the metric's unit (%, requests/s, requests, ms or the custom metric's), got 0",
                "f.yaml:13 services.shop.autoscaling.policies[1].targetTracking.perTask: perTask applies only to custom metrics; memory is built in",
                "f.yaml:14 services.shop.autoscaling.policies[2]: has targetTracking and step; a policy is exactly one kind (write two policies to combine them)",
                "f.yaml:18 services.shop.autoscaling.policies[3].step.adjustments[1].change: must be between 1 and 100, got 0",
                "f.yaml:18 services.shop.autoscaling.policies[3].step.adjustments[1].overPercent: must be above the step before (10), got 5",
                "f.yaml:18 services.shop.autoscaling.policies[3].step.datapoints: must be between 1 and 3, got 4",
                "f.yaml:18 services.shop.autoscaling.policies[3].step.lower: latency never removes tasks (low latency says nothing about spare capacity); scale in on a load metric",
                "f.yaml:20 services.shop.autoscaling.policies[4].scheduled: sets nothing: give min, max, desired or several",
                "f.yaml:20 services.shop.autoscaling.policies[4].scheduled.cron: has 4 fields; a cron expression has five fields (minute hour day-of-month month day-of-week), such as \"45 7 * * 1-5\"",
                "f.yaml:20 services.shop.autoscaling.policies[4].scheduled.timeZone: unknown time zone 'Mars/Olympus'; write an IANA name such as Europe/Paris, America/New_York or UTC",
                "f.yaml:21 services.shop.autoscaling.policies[5].name: policy 'mem' is defined twice",
            ],
            result.Errors.Select(e => e.ToString()));
    }

    [Fact]
    public void Load_DesiredOutsideMinAndMax_IsAnError()
    {
        var result = Load("""
            services:
              shop:
                command: [app]
                desired: 1
                autoscaling:
                  min: 2
                  max: 4
                  policies: [{ name: cpu, targetTracking: { metric: cpu, target: 60 } }]
            """);

        Assert.Equal(["f.yaml:4 services.shop.desired: is the starting count and must lie between autoscaling.min (2) and max (4), got 1"], result.Errors.Select(e => e.ToString()));
    }

    [Fact]
    public void Load_OnlyLatencyOrMemoryWithoutALimit_AreErrors()
    {
        var result = Load("""
            services:
              shop:
                command: [app]
                autoscaling:
                  max: 4
                  policies:
                    - { name: slow, targetTracking: { metric: p95_latency, target: 300 } }
                    - { name: mem, step: { metric: memory, upper: 80 } }
            """);

        Assert.Equal(
            ["f.yaml:8 services.shop.autoscaling.policies[1].step.metric: memory is a percentage of resources.memoryMb, which this service does not set"],
            result.Errors.Select(e => e.ToString()));

        var latencyOnly = Load("""
            services:
              shop:
                command: [app]
                autoscaling: { max: 4, policies: [{ name: slow, targetTracking: { metric: p99_latency, target: 300 } }] }
            """);
        Assert.StartsWith("f.yaml:4 services.shop.autoscaling.policies: latency is a secondary signal", Assert.Single(latencyOnly.Errors).ToString());
    }

    [Fact]
    public void Load_MinBelowTwoBehindAListener_IsAWarningNotAnError()
    {
        var result = Load("""
            listeners:
              - name: web
                listen: 127.0.0.1:8080
                rules: [{ service: shop }]
            services:
              shop:
                command: [app]
                autoscaling:
                  max: 4
                  policies: [{ name: load, targetTracking: { metric: active_requests, target: 5 } }]
              worker:
                command: [app]
                autoscaling:
                  max: 4
                  policies: [{ name: cpu, targetTracking: { metric: cpu, target: 60 } }]
            """);

        Assert.True(result.IsValid, Errors(result));
        Assert.Equal(
            ["f.yaml:8 services.shop.autoscaling.min: warning: min 1 leaves a service behind a listener with a single task at times, so any restart is an outage; 2 or more is recommended"],
            result.Warnings.Select(w => w.ToString()));
    }
}
