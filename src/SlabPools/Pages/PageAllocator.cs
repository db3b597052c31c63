using System;
using System.Threading;

namespace SlabPools.Pages;

/// <summary>
/// The bottom layer of the seed: something that hands out runs of pages to slab caches and takes
/// them back. New page allocators are derived from existing ones by wrapping them and changing
/// their methods (<see cref="BudgetPageAllocator"/>, <see cref="ReservePageAllocator"/>).
/// </summary>
/// <remarks>
/// <para>Contract for implementations:</para>
/// <list type="bullet">
/// <item><see cref="Allocate"/> either returns a block of at least the requested length whose address
/// is aligned to <see cref="PageSize"/> or to the 16-byte alignment of the pinned heap (see
/// <see cref="BlockAlignment"/>), or throws <see cref="OutOfMemoryException"/> and changes nothing.</item>
/// <item><see cref="Free"/> takes back exactly a block that this allocator handed out.</item>
/// <item>Both may be called from any thread; they are only called on slow paths (a slab is created
/// or released), never per object.</item>
/// </list>
/// </remarks>
public abstract class PageAllocator
{
    /// <summary>The size of an operating-system page, the granule of native allocations.</summary>
    public static readonly int PageSize = Environment.SystemPageSize;

    private long _bytesInUse;
    private long _blocksAllocated;
    private long _blocksFreed;

    /// <summary>A short name shown in diagnostics, for example "native" or "budget(64 MiB)/native".</summary>
    public abstract string Name { get; }

    /// <summary><see langword="true"/> when blocks are native memory (outside the GC heap).</summary>
    public abstract bool IsNative { get; }

    /// <summary>The alignment every block's address honours.</summary>
    public abstract int BlockAlignment { get; }

    /// <summary>Bytes currently handed out by this allocator and not yet freed.</summary>
    public long BytesInUse => Volatile.Read(ref _bytesInUse);

    /// <summary>Number of blocks handed out since creation.</summary>
    public long BlocksAllocated => Volatile.Read(ref _blocksAllocated);

    /// <summary>Number of blocks taken back since creation.</summary>
    public long BlocksFreed => Volatile.Read(ref _blocksFreed);

    /// <summary>Allocates a block of at least <paramref name="bytes"/> bytes.</summary>
    /// <param name="bytes">Requested length; must be positive.</param>
    /// <param name="node">Preferred memory node (a hint; ignored where the platform cannot honour it).</param>
    /// <returns>The block. Its contents are unspecified.</returns>
    /// <exception cref="OutOfMemoryException">No memory could be had; nothing was changed.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="bytes"/> is zero.</exception>
    public PageBlock Allocate(nuint bytes, int node = 0)
    {
        if (bytes == 0)
        {
            throw new ArgumentOutOfRangeException(nameof(bytes), "A page block must have a positive length.");
        }

        PageBlock block = AllocateCore(bytes, node);
        Interlocked.Add(ref _bytesInUse, (long)block.Length);
        Interlocked.Increment(ref _blocksAllocated);
        return block;
    }

    /// <summary>Gives a block back. The block must have come from this allocator's <see cref="Allocate"/>.</summary>
    /// <param name="block">The block to release.</param>
    public void Free(in PageBlock block)
    {
        if (block.IsEmpty)
        {
            return;
        }

        FreeCore(block);
        Interlocked.Add(ref _bytesInUse, -(long)block.Length);
        Interlocked.Increment(ref _blocksFreed);
    }

    /// <summary>Implements <see cref="Allocate"/>: return a block or throw <see cref="OutOfMemoryException"/> with nothing changed.</summary>
    protected abstract PageBlock AllocateCore(nuint bytes, int node);

    /// <summary>Implements <see cref="Free"/>.</summary>
    protected abstract void FreeCore(in PageBlock block);

    /// <summary>Throws the <see cref="OutOfMemoryException"/> every page allocator uses.</summary>
    protected static PageBlock ThrowOutOfMemory(string allocator, nuint bytes, string reason) =>
        throw new OutOfMemoryException($"Page allocator '{allocator}' could not provide {bytes} bytes: {reason}.");
}
