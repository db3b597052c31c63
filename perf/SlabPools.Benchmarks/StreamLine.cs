using System;
using System.Buffers;
using System.Runtime.CompilerServices;

namespace SlabPools.Benchmarks;

/// <summary>
/// Kestrel's download path in miniature, for one memory pool: the calling thread rents a buffer and
/// fills it (the handler writing a response), the buffer waits behind <see cref="Depth"/> others
/// (responses queued in 512 connections' pipes), then another thread copies it out (the kernel
/// copying it into a socket) and disposes it. Every buffer is rented on one thread and returned
/// on another, and the free buffers the pool cycles through do not fit in a core's cache: the
/// per-thread caches alone cannot serve it, as under the 512-connection Kestrel burst.
/// </summary>
internal sealed class StreamLine : IDisposable
{
    /// <summary>Buffers held between the rent and the hand-over (16 MiB of 4 KiB buffers).</summary>
    internal const int Depth = 4096;

    private readonly MemoryPool<byte> _pool;
    private readonly IMemoryOwner<byte>?[] _held = new IMemoryOwner<byte>?[Depth];
    private readonly ReturnThread<IMemoryOwner<byte>> _sender;
    private readonly byte[] _scratch = new byte[64 * 1024]; // the sender's only: the copy's destination
    private int _next;

    internal StreamLine(MemoryPool<byte> pool, string name)
    {
        _pool = pool;
        _sender = new ReturnThread<IMemoryOwner<byte>>(name, 1024, Send);
    }

    /// <summary>Streams <paramref name="n"/> buffers of <paramref name="size"/> bytes; returns when all handed over are back in the pool.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    internal long Run(int n, int size)
    {
        ReturnThread<IMemoryOwner<byte>> sender = _sender;
        IMemoryOwner<byte>?[] held = _held;
        int next = _next;
        long sum = 0;
        sender.BeginBatch();
        for (int i = 0; i < n; i++)
        {
            IMemoryOwner<byte> owner = _pool.Rent(size);
            Span<byte> span = owner.Memory.Span;
            span.Fill((byte)i);
            sum += span.Length;
            IMemoryOwner<byte>? oldest = held[next];
            if (oldest is not null)
            {
                sender.Send(oldest);
            }

            held[next] = owner;
            next = next + 1 == held.Length ? 0 : next + 1;
        }

        _next = next;
        sender.WaitUntilDrained();
        return sum;
    }

    private void Send(IMemoryOwner<byte> owner)
    {
        Span<byte> data = owner.Memory.Span;
        data[..Math.Min(data.Length, _scratch.Length)].CopyTo(_scratch);
        owner.Dispose();
    }

    /// <summary>Gives back the held buffers and stops the sender thread.</summary>
    public void Dispose()
    {
        _sender.Dispose();
        foreach (IMemoryOwner<byte>? owner in _held)
        {
            owner?.Dispose();
        }

        Array.Clear(_held);
    }
}
