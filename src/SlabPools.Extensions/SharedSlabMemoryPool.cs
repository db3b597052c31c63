using System;
using System.Buffers;
using System.Runtime.CompilerServices;
using SlabPools.Pools;

namespace SlabPools.Extensions;

/// <summary>
/// A pool made by <see cref="SlabMemoryPoolFactory.Create"/>: forwards to the allocator's shared
/// <see cref="SlabMemoryPool"/>, serves every request up to the transport block with a whole block
/// (<see cref="SlabPoolsOptions.TransportBlockSize"/>), and refuses rents once disposed.
/// </summary>
internal sealed class SharedSlabMemoryPool : MemoryPool<byte>
{
    private readonly SlabMemoryPool _shared;
    private readonly int _blockSize;
    private volatile bool _disposed;

    internal SharedSlabMemoryPool(SlabMemoryPool shared, int blockSize)
    {
        _shared = shared;
        _blockSize = blockSize;
    }

    /// <summary>The shared pool's largest buffer (1 MiB).</summary>
    public override int MaxBufferSize => _shared.MaxBufferSize;

    /// <summary>Rents from the shared pool: a transport block for -1, 0 and sizes up to the block, the size class of larger sizes.</summary>
    /// <exception cref="ObjectDisposedException">This pool was disposed.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="minBufferSize"/> is below -1 or above <see cref="MaxBufferSize"/>.</exception>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public override IMemoryOwner<byte> Rent(int minBufferSize = -1)
    {
        if (_disposed)
        {
            ThrowDisposed();
        }

        // -1 and 0 ("any buffer") map to 0 and 1, sizes up to the block to at most block + 1; sizes
        // below -1 wrap around to large unsigned values and, like sizes above the block, pass on
        // unchanged (the shared pool serves or rejects them).
        if ((uint)(minBufferSize + 1) <= (uint)(_blockSize + 1))
        {
            minBufferSize = _blockSize;
        }
        else if ((uint)minBufferSize > (uint)SizeClasses.MaxSize)
        {
            ThrowSize(minBufferSize, _blockSize);
        }

        return _shared.RentOwner(minBufferSize);
    }

    /// <summary>Stops this view from renting; the shared memory and buffers already rented are untouched.</summary>
    protected override void Dispose(bool disposing) => _disposed = true;

    private static void ThrowDisposed() => throw new ObjectDisposedException(nameof(SharedSlabMemoryPool), "This pool was disposed; the shared SlabPools memory pool is still there.");

    private static void ThrowSize(int size, int blockSize) =>
        throw new ArgumentOutOfRangeException(nameof(size), size, $"Buffer sizes run from 1 to {SizeClasses.MaxSize} bytes (-1 or 0 for a transport block of {blockSize}).");
}
