namespace Flotilla.Proxy.Targets;

/// <summary>
/// A task as the load balancer sees it: where it listens, how much traffic it should get, and what the load balancer
/// measures of it (requests in flight, latency, failures). One object per task for as long as the load balancer knows
/// the task; the control plane's view (health, draining) is written into it, the data plane updates its counters on
/// every request.
/// </summary>
internal sealed class Target
{
    /// <summary>Weight of a task nobody has reweighted; weights are relative, from 1 to <see cref="MaxWeight"/>.</summary>
    public const int DefaultWeight = 1;

    public const int MaxWeight = 256;

    /// <summary>Slow start begins at this share of the full weight (Envoy and ALB both start low, not at zero).</summary>
    public const double SlowStartFloor = 0.1;

    /// <summary>How fast the latency average forgets: Finagle's peak-EWMA default decay time.</summary>
    private static readonly TimeSpan LatencyDecay = TimeSpan.FromSeconds(10);

    private readonly long _slowStartTicks;
    private readonly double _decayTicks;
    private readonly Lock _latencyLock = new();
    private readonly Lock _inFlightLock = new();
    private int _inFlight;
    private long _busyTicks;
    private long _busyAccruedTo;
    private int _weight = DefaultWeight;
    private double _latencyEwmaMs = double.NaN;
    private long _latencyTimestamp;
    private int _consecutiveFailures;
    private TaskCompletionSource? _idle;

    /// <param name="taskId">The task's id.</param>
    /// <param name="service">The task's service.</param>
    /// <param name="revision">The task's revision.</param>
    /// <param name="port">The task's port on 127.0.0.1.</param>
    /// <param name="addedTimestamp">When it joined the pool, as a <see cref="TimeProvider"/> timestamp: slow start counts from here.</param>
    /// <param name="slowStart">How long its weight ramps up from 10% to 100%; zero for no ramp.</param>
    /// <param name="timestampFrequency">Ticks per second of the timestamps (<see cref="TimeProvider.TimestampFrequency"/>).</param>
    public Target(string taskId, string service, int revision, int port, long addedTimestamp, TimeSpan slowStart, long timestampFrequency)
    {
        TaskId = taskId;
        Service = service;
        Revision = revision;
        Port = port;
        Address = "http://127.0.0.1:" + port.ToString(System.Globalization.CultureInfo.InvariantCulture);
        AddedTimestamp = addedTimestamp;
        _slowStartTicks = (long)(slowStart.TotalSeconds * timestampFrequency);
        _decayTicks = LatencyDecay.TotalSeconds * timestampFrequency;
    }

    public string TaskId { get; }

    public string Service { get; }

    public int Revision { get; }

    public int Port { get; }

    /// <summary>The destination prefix for forwarding: <c>http://127.0.0.1:PORT</c>.</summary>
    public string Address { get; }

    public long AddedTimestamp { get; }

    /// <summary>Relative share of traffic for weighted algorithms, 1 to <see cref="MaxWeight"/>.</summary>
    public int Weight
    {
        get => Volatile.Read(ref _weight);
        set => Volatile.Write(ref _weight, Math.Clamp(value, 1, MaxWeight));
    }

    /// <summary>Requests forwarded to it and not yet answered.</summary>
    public int InFlight => Volatile.Read(ref _inFlight);

    /// <summary>
    /// Peak-EWMA latency in milliseconds as of <paramref name="timestamp"/> (NaN before the first answer): the last value, decayed for the time since the last answer.
    /// Finagle decays at read time like this so that a task that was slow once, then got no traffic, looks cheaper as
    /// time passes and is tried again, instead of being starved on its old figure.
    /// </summary>
    public double LatencyEwmaMs(long timestamp)
    {
        var ewma = Volatile.Read(ref _latencyEwmaMs);
        var since = timestamp - Volatile.Read(ref _latencyTimestamp);
        return double.IsNaN(ewma) || since <= 0 ? ewma : ewma * Math.Exp(-since / _decayTicks);
    }

    /// <summary>1 at full weight; during slow start, from <see cref="SlowStartFloor"/> rising linearly to 1.</summary>
    public double SlowStartFactor(long timestamp)
    {
        if (_slowStartTicks <= 0)
        {
            return 1;
        }

        var elapsed = timestamp - AddedTimestamp;
        return elapsed >= _slowStartTicks ? 1 : SlowStartFloor + ((1 - SlowStartFloor) * Math.Max(0, elapsed) / _slowStartTicks);
    }

    /// <summary>The weight as the algorithms should use it now: <see cref="Weight"/> × <see cref="SlowStartFactor"/>.</summary>
    public double EffectiveWeight(long timestamp) => Weight * SlowStartFactor(timestamp);

    /// <summary>The readiness check passes (control plane's view).</summary>
    public bool Ready { get; set; }

    /// <summary>Its task is being stopped: no new requests; those in flight finish.</summary>
    public bool Draining { get; set; }

    /// <summary>Passive health, guarded by its <see cref="TargetGroup"/>: ejected until this timestamp (0 when not ejected).</summary>
    public long EjectedUntil { get; set; }

    /// <summary>How many times it has been ejected since it last stayed clear for a full max-ejection time.</summary>
    public int TimesEjected { get; set; }

    /// <summary>When it last came back from an ejection (timestamp).</summary>
    public long ReturnedAt { get; set; }

    /// <summary>The time of the last active check the group had seen when it ejected this target: a later pass brings it back.</summary>
    public DateTimeOffset? EjectedAfterCheck { get; set; }

    /// <summary>A request is forwarded to it at <paramref name="timestamp"/> (a <see cref="TimeProvider"/> timestamp).</summary>
    public void RequestStarted(long timestamp)
    {
        lock (_inFlightLock)
        {
            AccrueBusyTime(timestamp);
            _inFlight++;
        }
    }

    /// <summary>A request forwarded to it is answered (or failed) at <paramref name="timestamp"/>.</summary>
    public void RequestEnded(long timestamp)
    {
        int left;
        lock (_inFlightLock)
        {
            AccrueBusyTime(timestamp);
            left = --_inFlight;
        }

        if (left == 0 && Volatile.Read(ref _idle) is { } idle)
        {
            idle.TrySetResult();
        }
    }

    /// <summary>
    /// The integral of <see cref="InFlight"/> over time up to <paramref name="timestamp"/>, in timestamp ticks: the
    /// request-time it has served. Its growth between two readings divided by the time between them is the mean number
    /// of requests in flight over that interval (Little's law) — exact, where a reading of <see cref="InFlight"/> at one
    /// instant can fall into the gap between a client's response and its next request.
    /// </summary>
    public long BusyTicks(long timestamp)
    {
        lock (_inFlightLock)
        {
            AccrueBusyTime(timestamp);
            return _busyTicks;
        }
    }

    /// <summary>Adds the time since the last change at the current in-flight count. Callers hold <see cref="_inFlightLock"/>.</summary>
    private void AccrueBusyTime(long timestamp)
    {
        // Timestamps from different threads can arrive slightly out of order: a late one adds nothing rather than a negative span.
        if (timestamp > _busyAccruedTo)
        {
            _busyTicks += _inFlight * (timestamp - _busyAccruedTo);
            _busyAccruedTo = timestamp;
        }
    }

    /// <summary>Completes when no request is in flight (at once if none is).</summary>
    public Task WhenIdleAsync()
    {
        // Publish the waiter before looking: a request that ends in between either sees the waiter or is seen as gone.
        var idle = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Volatile.Write(ref _idle, idle);
        if (InFlight == 0)
        {
            idle.TrySetResult();
        }

        return idle.Task;
    }

    /// <summary>Counts a response for passive health: returns the failures in a row, 0 after a success.</summary>
    public int RecordOutcome(bool failed)
    {
        if (failed)
        {
            return Interlocked.Increment(ref _consecutiveFailures);
        }

        // Most responses succeed: avoid a write when the count is already 0.
        if (Volatile.Read(ref _consecutiveFailures) != 0)
        {
            Interlocked.Exchange(ref _consecutiveFailures, 0);
        }

        return 0;
    }

    public void ResetFailures() => Interlocked.Exchange(ref _consecutiveFailures, 0);

    /// <summary>Folds one response time into the peak EWMA. Writers serialize on a lock; readers read without one.</summary>
    public void ObserveLatency(double milliseconds, long timestamp)
    {
        lock (_latencyLock)
        {
            var current = _latencyEwmaMs;
            if (double.IsNaN(current) || milliseconds > current)
            {
                current = milliseconds;
            }
            else
            {
                var decay = Math.Exp(-Math.Max(0, timestamp - _latencyTimestamp) / _decayTicks);
                current = (current * decay) + (milliseconds * (1 - decay));
            }

            Volatile.Write(ref _latencyEwmaMs, current);
            Volatile.Write(ref _latencyTimestamp, timestamp);
        }
    }

    public override string ToString() => $"{TaskId}@{Port}";
}
