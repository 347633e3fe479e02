using Flotilla.Core.Fleet;
using Flotilla.Core.Spec;
using Flotilla.Scheduling;

namespace Flotilla.Proxy.Routing;

/// <summary>
/// The router for the spec as last applied: rebuilt, and the listeners' settings updated, whenever an apply changes the
/// fleet's spec. Requests read <see cref="Current"/> once, so each is routed by one consistent table.
/// </summary>
internal sealed class RoutingTable : IDisposable
{
    private readonly FleetView _fleet;
    private readonly ListenerDirectory _listeners;
    private FlotillaSpec _spec;
    private volatile Router _router;

    public RoutingTable(FleetView fleet, ListenerDirectory listeners)
    {
        _fleet = fleet;
        _listeners = listeners;
        _spec = fleet.Current.Spec;
        _router = new Router(_spec);
        fleet.Changed += Update;
    }

    public Router Current => _router;

    public void Dispose() => _fleet.Changed -= Update;

    private void Update(FleetState state)
    {
        if (ReferenceEquals(state.Spec, _spec))
        {
            return;
        }

        _spec = state.Spec;
        _listeners.Update(_spec);
        _router = new Router(_spec);
    }
}
