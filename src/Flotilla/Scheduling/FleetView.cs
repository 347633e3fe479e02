using Flotilla.Core.Events;
using Flotilla.Core.Fleet;

namespace Flotilla.Scheduling;

/// <summary>A change to the fleet, applied on the scheduler's loop: the new state, with any events it raised.</summary>
internal delegate FleetState FleetTransition(FleetState state, List<FleetEvent> events);

/// <summary>
/// The fleet as last published by the scheduler: an immutable <see cref="FleetState"/> that the API, the proxy and the
/// metrics read without locks. If the scheduler stalls, readers keep the last state (the proxy keeps routing).
/// </summary>
internal sealed class FleetView(FleetState initial)
{
    private FleetState _current = initial;

    /// <summary>Raised on the scheduler's loop after each new state; handlers must be quick.</summary>
    public event Action<FleetState>? Changed;

    public FleetState Current => Volatile.Read(ref _current);

    public void Publish(FleetState state)
    {
        if (ReferenceEquals(Interlocked.Exchange(ref _current, state), state))
        {
            return;
        }

        Changed?.Invoke(state);
    }
}
