using System;
using System.Buffers;
using System.Runtime.CompilerServices;
using SlabPools.Slabs;

namespace SlabPools.Pools;

/// <summary>
/// A <see cref="MemoryPool{T}"/> of bytes over pinned managed slabs (caches <c>pinned-&lt;size&gt;</c>):
/// rent and dispose allocate nothing, buffers never move (safe for sockets and for
/// <see cref="Memory{T}.Pin"/>), and a double dispose is reported instead of corrupting the pool.
/// </summary>
/// <remarks>
/// <para><c>Rent()</c>, <c>Rent(-1)</c> and <c>Rent(0)</c> give a <see cref="DefaultBufferSize"/>
/// (4096-byte) buffer, as Kestrel's pool does; <c>Rent(n)</c> gives the size class of <c>n</c> up
/// to 4 KiB and the next multiple of 4 KiB above (so that Pipelines' varied segment sizes share a
/// few caches instead of spreading partial slabs over many). Kestrel's transport is served through
/// <c>SlabMemoryPoolFactory</c> (SlabPools.Extensions), whose pools give a larger transport block
/// (<see cref="SlabPoolsOptions.TransportBlockSize"/>) for those requests.</para>
/// <para>What release mode guarantees: a second Dispose of an owner is reported and ignored, and so
/// is a stale owner disposed while its slot's next rental is live (each slot has two owners used in
/// turn; eight in debug mode). <see cref="SlabMemoryOwner.Memory"/> throws
/// <see cref="ObjectDisposedException"/> after Dispose until that owner object is rented again.</para>
/// <para>Disposing the pool does nothing: its memory belongs to the <see cref="SlabAllocator"/>.</para>
/// </remarks>
public sealed class SlabMemoryPool : MemoryPool<byte>
{
    /// <summary>The size of <c>Rent()</c>, <c>Rent(-1)</c> and <c>Rent(0)</c>: 4096 bytes, Kestrel's block size.</summary>
    public const int DefaultBufferSize = 4096;

    private readonly SlotPool<SlabMemoryOwner> _slots;
    private readonly SlabAllocator _allocator;

    internal SlabMemoryPool(SlabAllocator allocator)
    {
        _allocator = allocator;
        _slots = new SlotPool<SlabMemoryOwner>(allocator, allocator.PinnedPages, "pinned-", static (slab, i) => new SlabMemoryOwner(slab, i));
        _hotId = _slots.HotId;
        _magazineIds = _slots.MagazineIds;
    }

    // The hot tier's id (-1: none), kept here so the fast path reads it from the pool itself.
    private readonly int _hotId;

    // The slot pool's magazine ids per class (the same array), read by the rent path from the pool itself.
    private readonly int[] _magazineIds;

    /// <summary>The largest buffer: <see cref="SizeClasses.MaxSize"/> (1 MiB), so that Pipelines sends all its segments here.</summary>
    public override int MaxBufferSize => SizeClasses.MaxSize;

    /// <summary>Rents a buffer of at least <paramref name="minBufferSize"/> bytes (4096 for -1 or 0).</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="minBufferSize"/> is below -1 or above <see cref="MaxBufferSize"/>.</exception>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public override IMemoryOwner<byte> Rent(int minBufferSize = -1) => RentOwner(minBufferSize);

    /// <summary>As <see cref="Rent"/>, typed.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public SlabMemoryOwner RentOwner(int minBufferSize = -1)
    {
        minBufferSize = PoolArguments.SizeOrDefault(minBufferSize, SizeClasses.MaxSize, DefaultBufferSize);

        int index = SlotPool<SlabMemoryOwner>.ClassIndexOf(minBufferSize);
        HotState<SlabMemoryOwner>? hot = HotTier<SlabMemoryOwner>.Primary;
        if (HotTier<SlabMemoryOwner>.TryTake(hot, _hotId, index, out SlabMemoryOwner owner))
        {
            return owner.RentFromCache();
        }

        return RentFromMagazines(hot, index);
    }

    // The primary hot state had nothing (it may be another pool's; then this pool's state is in
    // the thread's table): the magazines' fast path, by id, with the concrete owner type (the
    // shared generic SlotPool could only reach the owner through its interface).
    [MethodImpl(MethodImplOptions.NoInlining)]
    private SlabMemoryOwner RentFromMagazines(HotState<SlabMemoryOwner>? primary, int index)
    {
        MagazineBase?[]? table = HotTier<SlabMemoryOwner>.TableOf(primary);
        if (HotTier<SlabMemoryOwner>.TryTake(HotTier<SlabMemoryOwner>.OffPrimary(table, primary, _hotId), _hotId, index, out SlabMemoryOwner owner))
        {
            return owner.RentFromCache();
        }

        if (ThreadCache<SlabMemoryOwner>.TryPop(table, _magazineIds[index], out owner, out SlabMemoryOwner? next))
        {
            // Magazine rents come in runs (bursts, and buffers rented on one thread and returned
            // on another), and a magazine's buffers are often out of the cache by then (they came
            // back through the depot or the slabs, or long ago): the next one's first line, where
            // its rent reads the free mark and its user starts writing, is fetched while the caller
            // uses this one. Measured on a cross-thread stream of 4 KiB buffers (perf/ab.sh <base>
            // 20 4096 streaming): 0.95x the time per buffer with the depot a stack, 0.96-0.98x with
            // the depot a queue (its batches then come from further down the cache hierarchy).
            next?.PrefetchSlot();
            return owner.RentFromCache();
        }

        return _slots.RentSlow(index).MarkRented();
    }

    /// <summary>Does nothing: the memory belongs to the allocator.</summary>
    protected override void Dispose(bool disposing)
    {
    }

    internal SlabAllocator Allocator => _allocator;
}

/// <summary>Argument rules shared by the pools.</summary>
internal static class PoolArguments
{
    /// <summary>
    /// The size a memory pool serves for <paramref name="size"/>: itself for 1..max, the default for
    /// -1 and 0 (Kestrel's <c>Rent()</c>); throws otherwise. Inlined, so that the default is a
    /// constant and only the throw is a call.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static int SizeOrDefault(int size, int max, int defaultSize)
    {
        if ((uint)(size - 1) >= (uint)max)
        {
            size = (uint)(size + 1) <= 1 ? defaultSize : ThrowSize(size, max, defaultSize);
        }

        return size;
    }

    /// <summary>Throws for a size outside 1..max that is not -1 or 0 (the default size); declared to return one so that it fits an expression.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    internal static int ThrowSize(int size, int max, int defaultSize) =>
        throw new ArgumentOutOfRangeException(nameof(size), size, $"Buffer sizes run from 1 to {max} bytes (-1 or 0 for the default of {defaultSize}).");
}
