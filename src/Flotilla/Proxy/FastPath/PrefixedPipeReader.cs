using System.Buffers;
using System.IO.Pipelines;

namespace Flotilla.Proxy.FastPath;

/// <summary>
/// A connection's input for Kestrel after a hand-over: the bytes the event loop had already read (the prefix), then the
/// socket's input, read straight from Kestrel's transport — no copy and no pump for the connection's life.
/// </summary>
/// <remarks>
/// <para>
/// While prefix bytes remain, a read returns them alone. Only when the reader has examined all of them without
/// consuming them (a head or a chunk header that goes on past the prefix) is the transport read and the rest of the
/// prefix joined with what it had, in one new buffer; that join is the only copy, of bytes that were waiting anyway.
/// Once the prefix is consumed, every call goes straight to the transport's reader.
/// </para>
/// <para>
/// <see cref="CancelPendingRead"/> (Kestrel's way to end a connection that waits for its next request) may come from any
/// thread. While the prefix is served it cancels the next read of the prefix, not the transport's, so that the
/// transport's reader never sees a cancellation meant for a read it did not serve.
/// </para>
/// </remarks>
internal sealed class PrefixedPipeReader(ReadOnlyMemory<byte> prefix, PipeReader inner) : PipeReader
{
    private readonly Lock _gate = new();
    private ReadOnlyMemory<byte> _prefix = prefix;
    private bool _examinedAll;
    private bool _innerCompleted;
    private volatile bool _delegating = prefix.IsEmpty;
    private bool _awaitingInner;
    private bool _cancelled;

    public override bool TryRead(out ReadResult result)
    {
        if (_delegating)
        {
            return inner.TryRead(out result);
        }

        if (_examinedAll && !CancelRequested())
        {
            if (!inner.TryRead(out var more))
            {
                result = default;
                return false;
            }

            Join(more);
        }

        result = PrefixResult();
        return true;
    }

    public override ValueTask<ReadResult> ReadAsync(CancellationToken cancellationToken = default) =>
        _delegating ? inner.ReadAsync(cancellationToken) : ReadPrefixAsync(cancellationToken);

    public override void AdvanceTo(SequencePosition consumed) => AdvanceTo(consumed, consumed);

    public override void AdvanceTo(SequencePosition consumed, SequencePosition examined)
    {
        if (_delegating)
        {
            inner.AdvanceTo(consumed, examined);
            return;
        }

        var buffer = new ReadOnlySequence<byte>(_prefix);
        var rest = buffer.Slice(consumed);
        _examinedAll = !rest.IsEmpty && buffer.Slice(examined).IsEmpty && !_innerCompleted;
        _prefix = _prefix[(int)(buffer.Length - rest.Length)..];
        if (_prefix.IsEmpty)
        {
            lock (_gate)
            {
                _delegating = true;
                if (_cancelled)
                {
                    // Asked for after the last read of the prefix: it is the transport's next read that it cancels.
                    _cancelled = false;
                    inner.CancelPendingRead();
                }
            }
        }
    }

    public override void CancelPendingRead()
    {
        lock (_gate)
        {
            if (_delegating || _awaitingInner)
            {
                inner.CancelPendingRead();
            }
            else
            {
                _cancelled = true;
            }
        }
    }

    public override void Complete(Exception? exception = null)
    {
        _prefix = default;
        _delegating = true;
        inner.Complete(exception);
    }

    private async ValueTask<ReadResult> ReadPrefixAsync(CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        if (_examinedAll && StartAwaitingInner())
        {
            ReadResult more;
            try
            {
                more = await inner.ReadAsync(cancellationToken);
            }
            finally
            {
                lock (_gate)
                {
                    _awaitingInner = false;
                }
            }

            if (more.IsCanceled)
            {
                inner.AdvanceTo(more.Buffer.Start);
                return new ReadResult(new ReadOnlySequence<byte>(_prefix), isCanceled: true, isCompleted: false);
            }

            Join(more);
        }

        return PrefixResult();
    }

    private bool CancelRequested()
    {
        lock (_gate)
        {
            return _cancelled;
        }
    }

    /// <summary>Whether to read the transport now: not when a cancellation waits to be seen.</summary>
    private bool StartAwaitingInner()
    {
        lock (_gate)
        {
            _awaitingInner = !_cancelled;
            return _awaitingInner;
        }
    }

    private ReadResult PrefixResult()
    {
        bool cancelled;
        lock (_gate)
        {
            cancelled = _cancelled;
            _cancelled = false;
        }

        _examinedAll = false;
        return new ReadResult(new ReadOnlySequence<byte>(_prefix), cancelled, _innerCompleted);
    }

    /// <summary>The rest of the prefix and all that the transport holds, as the new prefix (the transport's part consumed).</summary>
    private void Join(ReadResult more)
    {
        var joined = new byte[_prefix.Length + more.Buffer.Length];
        _prefix.Span.CopyTo(joined);
        more.Buffer.CopyTo(joined.AsSpan(_prefix.Length));
        inner.AdvanceTo(more.Buffer.End);
        _prefix = joined;
        _innerCompleted = more.IsCompleted;
    }
}
