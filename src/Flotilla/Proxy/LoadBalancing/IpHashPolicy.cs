using Flotilla.Core.LoadBalancing;
using Flotilla.Proxy.Targets;

namespace Flotilla.Proxy.LoadBalancing;

/// <summary>
/// <c>ip_hash</c>: a stable hash of the client's address modulo the number of tasks, so a client keeps its task for as
/// long as the set of tasks is unchanged. Unlike nginx's ip_hash, which hashes only the first three octets of an IPv4
/// address, the whole address counts. Any change of membership remaps most clients; <c>consistent_hash</c> moves few.
/// </summary>
internal sealed class IpHashPolicy : ILoadBalancingPolicy
{
    public string Name => LoadBalancingNames.IpHash;

    public Target Pick(IRequestFields request, TargetSet targets, long timestamp) =>
        targets[(int)(StableHash.Of(request.ClientAddress) % (ulong)targets.Count)];
}
