// net-epoll's connections, buffers, parsers and libc calls (EventLoopProxy.cs).
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

internal abstract unsafe class Connection(int fd)
{
    public const int BufferSize = 16384;
    public readonly int Fd = fd;
    public bool Closed;
}

/// <summary>A buffer on the pinned heap, kept alive by the connection that holds it, used through its address.</summary>
internal readonly unsafe struct PinnedBuffer
{
    private readonly byte[] _array;
    private readonly byte* _start;

    public PinnedBuffer()
    {
        _array = GC.AllocateUninitializedArray<byte>(Connection.BufferSize, pinned: true);
        _start = (byte*)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(_array));
    }

    public static implicit operator byte*(PinnedBuffer buffer) => buffer._start;

    public static byte* operator +(PinnedBuffer buffer, int offset) => buffer._start + offset;
}

internal sealed unsafe class Client(int fd, byte[] forwardedFor) : Connection(fd)
{
    public readonly byte[] ForwardedFor = forwardedFor;
    public readonly PinnedBuffer In = new();
    public int InLen;
    public bool ReadBlocked;
    public readonly PinnedBuffer Pending = new();
    public int PendingStart, PendingLen;
    public Upstream? Up;
    public bool CloseAfterResponse, CloseAfterFlush;
}

internal sealed unsafe class Upstream(int fd, int backend) : Connection(fd)
{
    public readonly int Backend = backend;
    public readonly PinnedBuffer In = new();
    public int InLen;
    public readonly PinnedBuffer Out = new();
    public int OutStart, OutLen;
    public bool Connecting, Paused, Reusable;
    public Client? Client;

    // The response being relayed.
    public bool IsHead, HeadParsed;
    public long Remaining; // Content-Length framing: bytes of the response left; -1 for chunked
    public Chunked Chunks;

    public void Reset()
    {
        Client = null;
        InLen = OutStart = OutLen = 0;
        Paused = IsHead = HeadParsed = false;
        Remaining = 0;
        Chunks = default;
    }
}

/// <summary>Finds the end of a chunked body: sizes in hex, optional extensions, CRLFs, and trailers.</summary>
internal struct Chunked
{
    private enum State { Size, Extension, SizeLf, Data, DataCr, DataLf, TrailerStart, TrailerLine, End }

    private State _state;
    private long _left;
    private bool _sawDigit;

    public readonly bool Done => _state == State.End;

    /// <summary>Consumes bytes until the body ends; returns how many belong to it, or -1 if the framing is broken.</summary>
    public int Scan(ReadOnlySpan<byte> bytes)
    {
        var i = 0;
        while (i < bytes.Length && _state != State.End)
        {
            var b = bytes[i];
            switch (_state)
            {
                case State.Size:
                    var digit = HexValue(b);
                    if (digit >= 0)
                    {
                        if (_left > (long.MaxValue >> 4)) return -1;
                        _left = (_left << 4) | (uint)digit;
                        _sawDigit = true;
                    }
                    else if (!_sawDigit)
                    {
                        return -1;
                    }
                    else if (b == ';' || b == ' ' || b == '\t')
                    {
                        _state = State.Extension;
                    }
                    else if (b == '\r')
                    {
                        _state = State.SizeLf;
                    }
                    else
                    {
                        return -1;
                    }

                    i++;
                    break;
                case State.Extension:
                    if (b == '\r') _state = State.SizeLf;
                    i++;
                    break;
                case State.SizeLf:
                    if (b != '\n') return -1;
                    _state = _left == 0 ? State.TrailerStart : State.Data;
                    _sawDigit = false;
                    i++;
                    break;
                case State.Data:
                    var take = (int)Math.Min(_left, bytes.Length - i);
                    _left -= take;
                    i += take;
                    if (_left == 0) _state = State.DataCr;
                    break;
                case State.DataCr:
                    if (b != '\r') return -1;
                    _state = State.DataLf;
                    i++;
                    break;
                case State.DataLf:
                    if (b != '\n') return -1;
                    _state = State.Size;
                    i++;
                    break;
                case State.TrailerStart:
                    // An empty line ends the body; anything else is a trailer field, skipped to its LF.
                    _state = b == '\r' ? State.TrailerStart : b == '\n' ? State.End : State.TrailerLine;
                    i++;
                    break;
                case State.TrailerLine:
                    if (b == '\n') _state = State.TrailerStart;
                    i++;
                    break;
            }
        }

        return i;
    }

    private static int HexValue(byte b) => b switch
    {
        >= (byte)'0' and <= (byte)'9' => b - '0',
        >= (byte)'a' and <= (byte)'f' => b - 'a' + 10,
        >= (byte)'A' and <= (byte)'F' => b - 'A' + 10,
        _ => -1,
    };
}

/// <summary>The header lines of an HTTP/1.1 head (after its first line, up to and including the empty line).</summary>
internal ref struct HeaderLines(ReadOnlySpan<byte> lines)
{
    private ReadOnlySpan<byte> _rest = lines;

    public ReadOnlySpan<byte> Name { get; private set; }

    public ReadOnlySpan<byte> Value { get; private set; }

    public bool MoveNext()
    {
        while (true)
        {
            var end = _rest.IndexOf("\r\n"u8);
            if (end <= 0) return false; // the empty line (or a broken head) ends the fields
            var line = _rest[..end];
            _rest = _rest[(end + 2)..];
            var colon = line.IndexOf((byte)':');
            if (colon <= 0) continue;
            Name = line[..colon];
            Value = line[(colon + 1)..].Trim(" \t"u8);
            return true;
        }
    }
}

internal static unsafe partial class Libc
{
    public const int AF_INET = 2, SOCK_STREAM = 1, SOCK_NONBLOCK = 0x800, SOCK_CLOEXEC = 0x80000;
    public const int SOL_SOCKET = 1, SO_REUSEADDR = 2, SO_ERROR = 4, SO_REUSEPORT = 15, IPPROTO_TCP = 6, TCP_NODELAY = 1;
    public const int EPOLL_CLOEXEC = 0x80000, EPOLL_CTL_ADD = 1, MSG_NOSIGNAL = 0x4000;
    public const uint EPOLLIN = 0x1, EPOLLOUT = 0x4, EPOLLERR = 0x8, EPOLLHUP = 0x10, EPOLLRDHUP = 0x2000, EPOLLET = 0x80000000;
    public const int EINTR = 4, EAGAIN = 11, EINPROGRESS = 115;

    [StructLayout(LayoutKind.Sequential, Pack = 1)] // packed on x86-64
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

    public static SockAddrIn Loopback(int port) => new()
    {
        Family = AF_INET,
        Port = (ushort)System.Net.IPAddress.HostToNetworkOrder((short)port),
        Address = (uint)System.Net.IPAddress.HostToNetworkOrder(0x7F000001),
    };

    [LibraryImport("libc", SetLastError = true)] public static partial int epoll_create1(int flags);
    [LibraryImport("libc", SetLastError = true)] public static partial int epoll_ctl(int epfd, int op, int fd, EpollEvent* ev);
    [LibraryImport("libc", SetLastError = true)] public static partial int epoll_wait(int epfd, EpollEvent* events, int max, int timeout);
    [LibraryImport("libc", SetLastError = true)] public static partial int socket(int domain, int type, int protocol);
    [LibraryImport("libc", SetLastError = true)] public static partial int setsockopt(int fd, int level, int name, void* value, uint length);
    [LibraryImport("libc", SetLastError = true)] public static partial int getsockopt(int fd, int level, int name, void* value, uint* length);
    [LibraryImport("libc", SetLastError = true)] public static partial int bind(int fd, SockAddrIn* address, uint length);
    [LibraryImport("libc", SetLastError = true)] public static partial int listen(int fd, int backlog);
    [LibraryImport("libc", SetLastError = true)] public static partial int accept4(int fd, SockAddrIn* address, uint* length, int flags);
    [LibraryImport("libc", SetLastError = true)] public static partial int connect(int fd, SockAddrIn* address, uint length);
    [LibraryImport("libc", SetLastError = true)] public static partial nint recv(int fd, byte* buffer, nint length, int flags);
    [LibraryImport("libc", SetLastError = true)] public static partial nint send(int fd, byte* buffer, nint length, int flags);
    [LibraryImport("libc", SetLastError = true)] public static partial int close(int fd);
}
