using System;
using System.Buffers;
using System.Runtime.CompilerServices;
using SlabPools.Pools;

namespace SlabPools.Extensions;

/// <summary>
/// A pool made by <see cref="SlabMemoryPoolFactory.Create"/>: forwards to the allocator's shared
/// <see cref="SlabMemoryPool"/> and refuses rents once disposed.
/// </summary>
internal sealed class SharedSlabMemoryPool : MemoryPool<byte>
{
    private readonly SlabMemoryPool _shared;
    private volatile bool _disposed;

    internal SharedSlabMemoryPool(SlabMemoryPool shared) => _shared = shared;

    /// <summary>The shared pool's largest buffer (1 MiB).</summary>
    public override int MaxBufferSize => _shared.MaxBufferSize;

    /// <summary>Rents from the shared pool: 4096 bytes for -1 or 0, the size class of larger sizes.</summary>
    /// <exception cref="ObjectDisposedException">This pool was disposed.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="minBufferSize"/> is below -1 or above <see cref="MaxBufferSize"/>.</exception>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public override IMemoryOwner<byte> Rent(int minBufferSize = -1)
    {
        if (_disposed)
        {
            ThrowDisposed();
        }

        return _shared.RentOwner(minBufferSize);
    }

    /// <summary>Stops this view from renting; the shared memory and buffers already rented are untouched.</summary>
    protected override void Dispose(bool disposing) => _disposed = true;

    private static void ThrowDisposed() => throw new ObjectDisposedException(nameof(SharedSlabMemoryPool), "This pool was disposed; the shared SlabPools memory pool is still there.");
}
