using System.Net.Sockets;
using Flotilla.Proxy.FastPath;
using Microsoft.AspNetCore.Connections;

namespace Flotilla.Proxy;

/// <summary>
/// The client connections the load balancer holds at once, across its listeners and both of its paths, against
/// <c>loadBalancer.maxConnections</c> (HAProxy's <c>maxconn</c>). Each client connection takes a file descriptor, and
/// a second one for its connection to a task. A process out of descriptors fails everywhere at once: health checks
/// cannot connect, and the .NET runtime aborts ("Out of memory.") when it cannot open an assembly it needs.
/// </summary>
/// <remarks>
/// At the limit the event loops stop accepting, so new connections wait in the listen backlog until some close, as
/// with HAProxy. Kestrel's own listeners (HTTPS), which cannot be paused, close a connection over the limit as soon as
/// it is accepted, as Kestrel's <c>MaxConcurrentConnections</c> does. Each side takes one count per connection it
/// holds and gives it back when the connection closes or moves to the other side (a hand-over).
/// </remarks>
internal sealed partial class ConnectionBudget(int limit, ILogger logger)
{
    /// <summary>Warnings of each kind (at the limit, failed accepts): at most one in this long, however often they happen.</summary>
    private const long WarningIntervalMs = 30_000;

    private int _open;
    private long _rejected;
    private long _lastAtLimit = -WarningIntervalMs; // the first warning of each kind is due at once
    private long _lastCannotAccept = -WarningIntervalMs;

    public int Limit => limit;

    public int Open => Volatile.Read(ref _open);

    public bool HasRoom => Open < limit;

    /// <summary>Connections closed at once because the limit was reached (ALB's <c>RejectedConnectionCount</c>): Kestrel's accepts only.</summary>
    public long Rejected => Interlocked.Read(ref _rejected);

    /// <summary>
    /// The default limit for a process allowed <paramref name="openFiles"/> descriptors: half of what is left after a
    /// reserve (a tenth, at least 512) for the runtime's own files, the tasks' pipes and logs, health checks and the
    /// admin API; at least 64.
    /// </summary>
    public static int DefaultFor(long openFiles) => (int)Math.Clamp((openFiles - Math.Max(512, openFiles / 10)) / 2, 64, int.MaxValue);

    /// <summary>The smallest open-files limit whose <see cref="DefaultFor"/> leaves room for <paramref name="connections"/>.</summary>
    public static long OpenFilesFor(int connections)
    {
        long low = 0, high = 3L * connections + 1024; // DefaultFor(high) >= connections
        while (low < high)
        {
            var middle = (low + high) / 2;
            (low, high) = DefaultFor(middle) >= connections ? (low, middle) : (middle + 1, high);
        }

        return low;
    }

    /// <summary>This process's open-files limit (RLIMIT_NOFILE; the .NET runtime raises it to the hard limit at start).</summary>
    public static unsafe long OpenFilesLimit()
    {
        Libc.RLimit limit;
        return Libc.getrlimit(Libc.RLIMIT_NOFILE, &limit) == 0 ? (long)Math.Min(limit.Current, long.MaxValue) : long.MaxValue;
    }

    /// <summary>Counts a connection about to be accepted, if the limit allows it.</summary>
    public bool TryTake()
    {
        if (Interlocked.Increment(ref _open) <= limit)
        {
            return true;
        }

        Interlocked.Decrement(ref _open);
        return false;
    }

    public void Return() => Interlocked.Decrement(ref _open);

    /// <summary>
    /// Kestrel's connection middleware: counts each of its connections while it lasts. One the event loops handed over
    /// was accepted within the limit, and is taken as it is; one accepted by Kestrel over the limit is closed.
    /// </summary>
    public ConnectionDelegate Count(ConnectionDelegate next, string listener, bool handedOver) => async connection =>
    {
        if (handedOver)
        {
            Interlocked.Increment(ref _open);
        }
        else if (!TryTake())
        {
            Interlocked.Increment(ref _rejected);
            WarnAtLimit(listener, "are closed as they come");
            connection.Abort(new ConnectionAbortedException("the load balancer is at loadBalancer.maxConnections"));
            return;
        }

        try
        {
            await next(connection);
        }
        finally
        {
            Return();
        }
    };

    /// <summary>The limit stopped an accept on <paramref name="listener"/>, whose new connections <paramref name="what"/>.</summary>
    public void WarnAtLimit(string listener, string what = "wait in the listen backlog")
    {
        if (MayWarn(ref _lastAtLimit))
        {
            LogAtLimit(limit, listener, what);
        }
    }

    /// <summary>An accept on <paramref name="listener"/> failed for want of resources (<see cref="Libc.OutOfResources"/>).</summary>
    public void WarnCannotAccept(string listener, int error)
    {
        if (MayWarn(ref _lastCannotAccept))
        {
            LogCannotAccept(listener, new SocketException(error).Message, OpenFilesLimit(), limit);
        }
    }

    private static bool MayWarn(ref long lastWarning)
    {
        var now = Environment.TickCount64;
        var last = Interlocked.Read(ref lastWarning);
        return now - last >= WarningIntervalMs && Interlocked.CompareExchange(ref lastWarning, now, last) == last;
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "the load balancer holds {Limit} client connections, its limit (loadBalancer.maxConnections): until some close, new connections on {Listener} {What}")]
    private partial void LogAtLimit(int limit, string listener, string what);

    [LoggerMessage(Level = LogLevel.Warning, Message = "listener {Listener} cannot accept connections: {Error}; trying again every 100 ms (open-files limit {OpenFiles}, loadBalancer.maxConnections {Limit})")]
    private partial void LogCannotAccept(string listener, string error, long openFiles, int limit);
}
