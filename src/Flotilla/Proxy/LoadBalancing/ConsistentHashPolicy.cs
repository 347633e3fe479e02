using System.Globalization;
using Flotilla.Core.LoadBalancing;
using Flotilla.Core.Spec;
using Flotilla.Proxy.Targets;
using Microsoft.Extensions.Primitives;

namespace Flotilla.Proxy.LoadBalancing;

/// <summary>
/// <c>consistent_hash</c>: a ketama hash ring, as in Envoy's ring_hash and nginx's <c>hash … consistent</c>, with
/// <see cref="LoadBalancingSpec.VirtualNodes"/> points per task; a request goes to the owner of the first point at or
/// after its key's hash. A key keeps its task while the set is unchanged, and when a task joins or leaves only about
/// 1/n of the keys move — those the task takes over or had. The key is the client IP, a header or a cookie
/// (<see cref="LoadBalancingSpec.HashOn"/>); a request without that header or cookie is keyed on its client IP, so it
/// still sticks somewhere.
/// </summary>
/// <remarks>
/// With <see cref="LoadBalancingSpec.BoundedLoad"/> = c this is Google's "consistent hashing with bounded loads"
/// (Mirrokni, Thorup, Zadimoghaddam, 2016; Envoy's <c>hash_balance_factor</c>, HAProxy's <c>hash-balance-factor</c>):
/// a task takes the request only if, with it, it has at most <c>ceil(c × (all in flight + 1) / n)</c> in flight;
/// otherwise the walk goes on clockwise. A hot key then spills over to the next tasks instead of overloading one, and
/// keys stay as sticky as the load allows.
/// </remarks>
internal sealed class ConsistentHashPolicy : ILoadBalancingPolicy
{
    private readonly KeySource _source;
    private readonly string _name = "";
    private readonly double? _boundedLoad;
    private readonly PerTargetSet<Ring> _rings;

    public ConsistentHashPolicy(LoadBalancingSpec spec)
    {
        if (spec.HashOn.StartsWith(LoadBalancingSpec.HashOnHeaderPrefix, StringComparison.Ordinal))
        {
            _source = KeySource.Header;
            _name = spec.HashOn[LoadBalancingSpec.HashOnHeaderPrefix.Length..];
        }
        else if (spec.HashOn.StartsWith(LoadBalancingSpec.HashOnCookiePrefix, StringComparison.Ordinal))
        {
            _source = KeySource.Cookie;
            _name = spec.HashOn[LoadBalancingSpec.HashOnCookiePrefix.Length..];
        }

        _boundedLoad = spec.BoundedLoad;
        var virtualNodes = spec.VirtualNodes;
        _rings = new(targets => new Ring(targets, virtualNodes));
    }

    private enum KeySource
    {
        ClientIp,
        Header,
        Cookie,
    }

    public string Name => LoadBalancingNames.ConsistentHash;

    public Target Pick(IRequestFields request, TargetSet targets, long timestamp)
    {
        var ring = _rings.For(targets);
        var point = ring.PointAtOrAfter(KeyHash(request));
        return _boundedLoad is { } factor ? ring.FirstUnderBound(point, factor) : ring.Owner(point);
    }

    private ulong KeyHash(IRequestFields request)
    {
        switch (_source)
        {
            case KeySource.Header:
                var values = request.Header(_name);
                if (!StringValues.IsNullOrEmpty(values))
                {
                    return StableHash.Of(values);
                }

                break;
            case KeySource.Cookie:
                // The cookie collection parses the Cookie header once per request; a proxy has no app sharing it.
                if (request.Cookie(_name) is { Length: > 0 } cookie)
                {
                    return StableHash.Of(cookie);
                }

                break;
        }

        return StableHash.Of(request.ClientAddress);
    }

    /// <summary>One set's ring: its points sorted by hash, each with its owner. Immutable, so read without locks.</summary>
    private sealed class Ring
    {
        private readonly TargetSet _targets;
        private readonly ulong[] _points;
        private readonly Target[] _owners;

        public Ring(TargetSet targets, int virtualNodes)
        {
            _targets = targets;
            _points = new ulong[targets.Count * virtualNodes];
            _owners = new Target[_points.Length];
            var k = 0;
            foreach (var target in targets.Targets)
            {
                // Points hash the task id, not its index or port, so a task keeps its points whoever joins or leaves.
                for (var i = 0; i < virtualNodes; i++, k++)
                {
                    _points[k] = StableHash.Of(string.Create(CultureInfo.InvariantCulture, $"{target.TaskId}#{i}"));
                    _owners[k] = target;
                }
            }

            Array.Sort(_points, _owners);
        }

        /// <summary>The index of the first point at or after <paramref name="hash"/>, wrapping past the top of the ring.</summary>
        public int PointAtOrAfter(ulong hash)
        {
            var index = Array.BinarySearch(_points, hash);
            if (index < 0)
            {
                index = ~index;
            }

            return index == _points.Length ? 0 : index;
        }

        public Target Owner(int point) => _owners[point];

        /// <summary>The owner of the first point, from <paramref name="point"/> clockwise, whose task is under the bound.</summary>
        public Target FirstUnderBound(int point, double factor)
        {
            var total = 0;
            foreach (var target in _targets.Targets)
            {
                total += target.InFlight;
            }

            // Some task is always under the bound — were every task at it, together they would hold at least
            // c × (total + 1) > total requests — so the walk ends, usually within a few points, since owners are
            // interleaved on the ring. Only counts changing under the walk can defeat that; the walk is then cut at
            // one turn and the key's own task serves.
            var bound = Math.Ceiling(factor * (total + 1) / _targets.Count);
            for (var step = 0; step < _points.Length; step++)
            {
                var owner = _owners[(point + step) % _points.Length];
                if (owner.InFlight + 1 <= bound)
                {
                    return owner;
                }
            }

            return _owners[point];
        }
    }
}
