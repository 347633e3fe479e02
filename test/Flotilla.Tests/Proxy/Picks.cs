using Flotilla.Proxy;
using Flotilla.Proxy.LoadBalancing;
using Flotilla.Proxy.Targets;
using Microsoft.AspNetCore.Http;

namespace Flotilla.Tests.Proxy;

/// <summary>Runs a policy many times and reports what it picked, by task id.</summary>
internal static class Picks
{
    private static readonly HttpRequestFields Context = new(new DefaultHttpContext());

    /// <summary>The task ids of <paramref name="times"/> picks, in order; in-flight counts stay as they are.</summary>
    public static List<string> Of(ILoadBalancingPolicy policy, TargetSet targets, int times, long timestamp = 0) =>
        Enumerable.Range(0, times).Select(_ => policy.Pick(Context, targets, timestamp).TaskId).ToList();

    /// <summary>Like <see cref="Of"/>, but starts a request on every pick and never ends one: a burst of concurrent requests.</summary>
    public static List<string> Starting(ILoadBalancingPolicy policy, TargetSet targets, int times, long timestamp = 0) =>
        Enumerable.Range(0, times).Select(_ =>
        {
            var target = policy.Pick(Context, targets, timestamp);
            target.RequestStarted(timestamp);
            return target.TaskId;
        }).ToList();

    /// <summary>How many of <paramref name="picks"/> went to each of <paramref name="targets"/>, in the set's order (zeros included).</summary>
    public static int[] Counts(TargetSet targets, IEnumerable<string> picks)
    {
        var counts = picks.CountBy(id => id).ToDictionary();
        return targets.Targets.Select(t => counts.GetValueOrDefault(t.TaskId)).ToArray();
    }

    /// <summary>The longest run of one task id in a row.</summary>
    public static int LongestRun(IReadOnlyList<string> picks)
    {
        var longest = 0;
        for (int i = 0, run = 0; i < picks.Count; i++)
        {
            run = i > 0 && picks[i] == picks[i - 1] ? run + 1 : 1;
            longest = Math.Max(longest, run);
        }

        return longest;
    }
}
