using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;

namespace Flotilla.Proxy.FastPath;

/// <summary>
/// The Linux calls the fast path's event loops make themselves: epoll, an eventfd to wake a loop, and non-blocking TCP
/// sockets. Each returns -1 and sets errno (<see cref="Marshal.GetLastPInvokeError"/>) on failure, as in C.
/// </summary>
internal static unsafe partial class Libc
{
    public const int AF_INET = 2, AF_INET6 = 10, SOCK_STREAM = 1, SOCK_NONBLOCK = 0x800, SOCK_CLOEXEC = 0x80000;
    public const int SOL_SOCKET = 1, SO_ERROR = 4, IPPROTO_TCP = 6, TCP_NODELAY = 1;
    public const int EPOLL_CLOEXEC = 0x80000, EPOLL_CTL_ADD = 1, EPOLL_CTL_DEL = 2, EFD_NONBLOCK = 0x800, EFD_CLOEXEC = 0x80000;
    public const int MSG_NOSIGNAL = 0x4000;
    public const uint EPOLLIN = 0x1, EPOLLOUT = 0x4, EPOLLERR = 0x8, EPOLLHUP = 0x10, EPOLLRDHUP = 0x2000;
    public const uint EPOLLEXCLUSIVE = 1u << 28, EPOLLET = 1u << 31;
    public const int EINTR = 4, EAGAIN = 11, ENOMEM = 12, ENFILE = 23, EMFILE = 24, ENOBUFS = 105, EINPROGRESS = 115;
    public const int RLIMIT_NOFILE = 7;

    /// <summary>Readable, writable and hang-up, edge-triggered: a socket is registered once, for its life.</summary>
    public const uint SocketEvents = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;

    /// <summary>Events that mean "try to read": data, end of stream, or an error that the read reports.</summary>
    public const uint ReadEvents = EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR;

    /// <summary>
    /// The peer has shut down its side. Reported with the edge that brought the last data, so after it a short read no
    /// longer means "drained until the next edge": the reader must read on until it sees the end (0).
    /// </summary>
    public const uint HangUpEvents = EPOLLRDHUP | EPOLLHUP | EPOLLERR;

    /// <summary>The kernel's struct rlimit: the soft limit, which applies, and the hard one it may be raised to.</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct RLimit
    {
        public ulong Current;
        public ulong Max;
    }

    [StructLayout(LayoutKind.Sequential, Pack = 1)] // packed on x86-64, as the kernel's struct epoll_event
    public struct EpollEvent
    {
        public uint Events;
        public ulong Data;
    }

    [StructLayout(LayoutKind.Sequential)]
    public struct SockAddrIn
    {
        public ushort Family;
        public ushort Port; // network byte order
        public uint Address; // network byte order
        public ulong Zero;
    }

    /// <summary>Room for an IPv4 or IPv6 address (sockaddr_in6 is 28 bytes).</summary>
    [StructLayout(LayoutKind.Sequential, Size = 128)]
    public struct SockAddrStorage
    {
        public ushort Family;
    }

    /// <summary>errno of the last call that failed.</summary>
    public static int LastError => Marshal.GetLastPInvokeError();

    public static bool WouldBlock => LastError == EAGAIN;

    /// <summary>A call failed for want of descriptors or kernel memory: trying again at once would fail the same way.</summary>
    public static bool OutOfResources(int error) => error is EMFILE or ENFILE or ENOBUFS or ENOMEM;

    public static SockAddrIn Loopback(int port) => new()
    {
        Family = AF_INET,
        Port = (ushort)IPAddress.HostToNetworkOrder((short)port),
        Address = (uint)IPAddress.HostToNetworkOrder(0x7F000001),
    };

    /// <summary>The peer's address from accept4's sockaddr, as Kestrel reports it (IPv4-mapped IPv6 left as it is).</summary>
    public static IPAddress PeerAddress(SockAddrStorage* address)
    {
        var bytes = (byte*)address;
        return address->Family switch
        {
            AF_INET => new IPAddress(new ReadOnlySpan<byte>(bytes + 4, 4)),
            AF_INET6 => new IPAddress(new ReadOnlySpan<byte>(bytes + 8, 16), *(uint*)(bytes + 24)),
            _ => IPAddress.None,
        };
    }

    public static SocketException Error() => new(Marshal.GetLastPInvokeError());

    public static void SetNoDelay(int fd)
    {
        var on = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(int));
    }

    [LibraryImport("libc", SetLastError = true)] public static partial int epoll_create1(int flags);
    [LibraryImport("libc", SetLastError = true)] public static partial int epoll_ctl(int epfd, int op, int fd, EpollEvent* ev);
    [LibraryImport("libc", SetLastError = true)] public static partial int epoll_wait(int epfd, EpollEvent* events, int max, int timeout);
    [LibraryImport("libc", SetLastError = true)] public static partial int eventfd(uint initial, int flags);
    [LibraryImport("libc", SetLastError = true)] public static partial nint read(int fd, void* buffer, nint length);
    [LibraryImport("libc", SetLastError = true)] public static partial nint write(int fd, void* buffer, nint length);
    [LibraryImport("libc", SetLastError = true)] public static partial int socket(int domain, int type, int protocol);
    [LibraryImport("libc", SetLastError = true)] public static partial int setsockopt(int fd, int level, int name, void* value, uint length);
    [LibraryImport("libc", SetLastError = true)] public static partial int getsockopt(int fd, int level, int name, void* value, uint* length);
    [LibraryImport("libc", SetLastError = true)] public static partial int accept4(int fd, SockAddrStorage* address, uint* length, int flags);
    [LibraryImport("libc", SetLastError = true)] public static partial int connect(int fd, SockAddrIn* address, uint length);
    [LibraryImport("libc", SetLastError = true)] public static partial nint recv(int fd, byte* buffer, nint length, int flags);
    [LibraryImport("libc", SetLastError = true)] public static partial nint send(int fd, byte* buffer, nint length, int flags);
    [LibraryImport("libc", SetLastError = true)] public static partial int close(int fd);
    [LibraryImport("libc", SetLastError = true)] public static partial int getrlimit(int resource, RLimit* limit);
}
