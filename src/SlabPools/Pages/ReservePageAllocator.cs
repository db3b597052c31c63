using System;
using System.Collections.Generic;
using System.Threading;

namespace SlabPools.Pages;

/// <summary>
/// Keeps a reserve of blocks taken from the inner allocator up front, handed out only when the inner
/// allocator fails, so that work already under way can make forward progress under memory pressure
/// (the role of a kernel mempool). Blocks from the reserve go back to the reserve when freed, until
/// it is full again.
/// </summary>
/// <remarks>
/// Every reserve block has <see cref="BlockSize"/> bytes; a request larger than that cannot be served
/// from the reserve and fails as the inner allocator failed.
/// </remarks>
public sealed class ReservePageAllocator : DerivedPageAllocator, IDisposable
{
    // Protects _reserve and _reserveIssued. Taken only on the failure path and when a reserve block
    // comes back, never in the common case.
    private readonly Lock _lock = new();
    private readonly Stack<PageBlock> _reserve = new();
    private readonly HashSet<nint> _reserveIssued = new();
    private long _reserveHits;
    private bool _disposed;

    /// <summary>Takes <paramref name="blocks"/> blocks of <paramref name="blockSize"/> bytes from <paramref name="inner"/> as the reserve.</summary>
    /// <exception cref="ArgumentOutOfRangeException">A count or size is not positive.</exception>
    /// <exception cref="OutOfMemoryException">The reserve itself could not be allocated (nothing is kept).</exception>
    public ReservePageAllocator(PageAllocator inner, int blocks, nuint blockSize)
        : base(inner)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(blocks);
        ArgumentOutOfRangeException.ThrowIfZero(blockSize);
        BlockSize = blockSize;
        ReserveCapacity = blocks;
        try
        {
            for (int i = 0; i < blocks; i++)
            {
                _reserve.Push(inner.Allocate(blockSize));
            }
        }
        catch (OutOfMemoryException)
        {
            while (_reserve.Count > 0)
            {
                inner.Free(_reserve.Pop());
            }

            throw;
        }
    }

    /// <summary>The size of each reserve block.</summary>
    public nuint BlockSize { get; }

    /// <summary>How many blocks the reserve holds when full.</summary>
    public int ReserveCapacity { get; }

    /// <summary>Blocks in the reserve now.</summary>
    public int ReserveAvailable
    {
        get
        {
            lock (_lock)
            {
                return _reserve.Count;
            }
        }
    }

    /// <summary>How many requests the reserve has served.</summary>
    public long ReserveHits => Volatile.Read(ref _reserveHits);

    /// <inheritdoc/>
    public override string Name => $"reserve({ReserveCapacity}x{BlockSize})/{Inner.Name}";

    /// <inheritdoc/>
    protected override PageBlock AllocateCore(nuint bytes, int node)
    {
        try
        {
            return Inner.Allocate(bytes, node);
        }
        catch (OutOfMemoryException) when (bytes <= BlockSize)
        {
            lock (_lock)
            {
                if (_reserve.Count == 0)
                {
                    throw;
                }

                PageBlock block = _reserve.Pop();
                _reserveIssued.Add(block.Address);
                Interlocked.Increment(ref _reserveHits);
                return block;
            }
        }
    }

    /// <inheritdoc/>
    protected override void FreeCore(in PageBlock block)
    {
        lock (_lock)
        {
            // A reserve block comes home, or an ordinary block of the right size refills a depleted
            // reserve; anything else (or anything once the reserve is full) goes back to the inner allocator.
            bool fromReserve = _reserveIssued.Remove(block.Address);
            if (!_disposed && _reserve.Count < ReserveCapacity && (fromReserve || block.Length == BlockSize))
            {
                _reserve.Push(block);
                return;
            }
        }

        Inner.Free(block);
    }

    /// <summary>Gives the blocks still in the reserve back to the inner allocator.</summary>
    public void Dispose()
    {
        lock (_lock)
        {
            _disposed = true;
            while (_reserve.Count > 0)
            {
                Inner.Free(_reserve.Pop());
            }
        }
    }
}
