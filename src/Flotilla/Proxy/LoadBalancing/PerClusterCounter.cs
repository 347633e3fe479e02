using System.Runtime.CompilerServices;
using Yarp.ReverseProxy.Model;

namespace Flotilla.Proxy.LoadBalancing;

/// <summary>
/// A rotating counter per cluster (service). One shared counter would be wrong: two services taking requests in turn
/// would each see every other value, and a service with two targets would always get the same one.
/// </summary>
internal sealed class PerClusterCounter
{
    private readonly ConditionalWeakTable<ClusterState, Box> _counters = [];

    /// <summary>The next value in <c>[0, count)</c> for this cluster.</summary>
    public int Next(ClusterState cluster, int count)
    {
        var box = _counters.GetOrCreateValue(cluster);
        var value = (uint)Interlocked.Increment(ref box.Value);
        return (int)(value % (uint)count);
    }

    private sealed class Box
    {
        public int Value = -1;
    }
}
