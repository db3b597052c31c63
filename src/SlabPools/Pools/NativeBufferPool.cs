using System;
using System.Buffers;
using System.Collections.Generic;
using System.Runtime.CompilerServices;
using System.Threading;
using SlabPools.Pages;
using SlabPools.Slabs;

namespace SlabPools;

/// <summary>
/// Buffers outside the GC heap, from native slabs whose memory goes back to the operating system
/// when they are released. Two faces:
/// <list type="bullet">
/// <item>a <see cref="MemoryPool{T}"/> (caches <c>native-&lt;size&gt;</c>): <see cref="Rent"/> gives a
/// <see cref="Pools.NativeMemoryOwner"/> whose <see cref="MemoryManager{T}.Pin"/> returns a stable pointer;</item>
/// <item>a pointer API for interop (the kmalloc caches <c>kmalloc-&lt;size&gt;</c>):
/// <see cref="Allocate"/>, <see cref="Free"/>, <see cref="GetUsableSize"/>.</item>
/// </list>
/// </summary>
/// <remarks>
/// Requests above <see cref="SizeClasses.MaxSize"/> through the pointer API get pages of their own
/// from the native page allocator, released by <see cref="Free"/>. Disposing the pool does nothing:
/// its memory belongs to the <see cref="SlabAllocator"/>.
/// </remarks>
public sealed class NativeBufferPool : MemoryPool<byte>
{
    /// <summary>The size of <c>Rent()</c>, <c>Rent(-1)</c> and <c>Rent(0)</c>.</summary>
    public const int DefaultBufferSize = 4096;

    private readonly SlabAllocator _allocator;
    private readonly Pools.SlotPool<Pools.NativeMemoryOwner> _slots;

    // Protects _large: allocations above the largest size class, by address.
    private readonly Lock _largeLock = new();
    private readonly Dictionary<nint, PageBlock> _large = new();

    internal NativeBufferPool(SlabAllocator allocator)
    {
        _allocator = allocator;
        _slots = new Pools.SlotPool<Pools.NativeMemoryOwner>(allocator, allocator.NativePages, "native-", static (slab, i) => new Pools.NativeMemoryOwner(slab, i));
        _hotId = _slots.HotId;
        _magazineIds = _slots.MagazineIds;
    }

    // The hot tier's id (-1: none), kept here so the fast path reads it from the pool itself.
    private readonly int _hotId;

    // The slot pool's magazine ids per class (the same array), read by the rent path from the pool itself.
    private readonly int[] _magazineIds;

    /// <summary>The largest buffer <see cref="Rent"/> gives: <see cref="SizeClasses.MaxSize"/>.</summary>
    public override int MaxBufferSize => SizeClasses.MaxSize;

    /// <summary>Rents a native buffer of at least <paramref name="minBufferSize"/> bytes (4096 for -1 or 0).</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="minBufferSize"/> is below -1 or above <see cref="MaxBufferSize"/>.</exception>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public override IMemoryOwner<byte> Rent(int minBufferSize = -1) => RentOwner(minBufferSize);

    /// <summary>As <see cref="Rent"/>, typed.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Pools.NativeMemoryOwner RentOwner(int minBufferSize = -1)
    {
        minBufferSize = Pools.PoolArguments.SizeOrDefault(minBufferSize, SizeClasses.MaxSize, DefaultBufferSize);

        int index = Pools.SlotPool<Pools.NativeMemoryOwner>.ClassIndexOf(minBufferSize);
        HotState<Pools.NativeMemoryOwner>? hot = HotTier<Pools.NativeMemoryOwner>.Primary;
        if (HotTier<Pools.NativeMemoryOwner>.TryTake(hot, _hotId, index, out Pools.NativeMemoryOwner owner))
        {
            return owner.RentFromCache();
        }

        return RentFromMagazines(hot, index);
    }

    // The primary hot state had nothing (it may be another pool's; then this pool's state is in
    // the thread's table): the magazines' fast path, by id, with the concrete owner type (the
    // shared generic SlotPool could only reach the owner through its interface).
    [MethodImpl(MethodImplOptions.NoInlining)]
    private Pools.NativeMemoryOwner RentFromMagazines(HotState<Pools.NativeMemoryOwner>? primary, int index)
    {
        MagazineBase?[]? table = HotTier<Pools.NativeMemoryOwner>.TableOf(primary);
        if (HotTier<Pools.NativeMemoryOwner>.TryTake(HotTier<Pools.NativeMemoryOwner>.OffPrimary(table, primary, _hotId), _hotId, index, out Pools.NativeMemoryOwner owner))
        {
            return owner.RentFromCache();
        }

        if (ThreadCache<Pools.NativeMemoryOwner>.TryPop(table, _magazineIds[index], out owner, out Pools.NativeMemoryOwner? next))
        {
            // The next buffer's first line is fetched while the caller uses this one (see SlabMemoryPool).
            next?.PrefetchSlot();
            return owner.RentFromCache();
        }

        return _slots.RentSlow(index).MarkRented();
    }

    /// <summary>Allocates <paramref name="size"/> bytes of native memory (at least 16 bytes are reserved).</summary>
    /// <returns>The address; free it with <see cref="Free"/>. The memory is not zeroed.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="size"/> is negative.</exception>
    /// <exception cref="OutOfMemoryException">No memory could be had.</exception>
    public nint Allocate(long size)
    {
        if ((ulong)size <= SizeClasses.MaxSize)
        {
            // The requested size matters to red zones: the bytes past it are guarded.
            return _allocator.GetKmallocCache((int)size).AllocateObject((int)size).Address;
        }

        ArgumentOutOfRangeException.ThrowIfNegative(size);
        _allocator.ThrowIfDisposed();
        PageBlock block = _allocator.NativePages.Allocate((nuint)size);
        lock (_largeLock)
        {
            _large.Add(block.Address, block);
        }

        return block.Address;
    }

    /// <summary>
    /// Frees memory from <see cref="Allocate"/>. A double free or a pointer that did not come from
    /// this pool is reported through <see cref="SlabAllocator.ErrorDetected"/> and otherwise ignored.
    /// </summary>
    public void Free(nint address)
    {
        Slab? slab = _allocator.Map.Find(address);
        if (slab is not null && slab.Cache.IsKmalloc)
        {
            slab.Cache.FreeFound(slab, address);
            return;
        }

        PageBlock block;
        lock (_largeLock)
        {
            if (!_large.Remove(address, out block))
            {
                block = default;
            }
        }

        if (!block.IsEmpty)
        {
            _allocator.NativePages.Free(block);
            return;
        }

        _allocator.Reporter.Report(
            SlabErrorKind.ForeignObject,
            "native-pointers",
            $"0x{address:x} was not allocated by this pool (or was already freed)",
            "pointer ignored; the pool is unchanged");
    }

    /// <summary>The bytes usable at <paramref name="address"/> (the size class, or the large block's length); 0 for an unknown pointer.</summary>
    public long GetUsableSize(nint address)
    {
        Slab? slab = _allocator.Map.Find(address);
        if (slab is not null)
        {
            return slab.IndexOf(address) >= 0 ? slab.Cache.ObjectSize : 0;
        }

        lock (_largeLock)
        {
            return _large.TryGetValue(address, out PageBlock block) ? (long)block.Length : 0;
        }
    }

    /// <summary>Does nothing: the memory belongs to the allocator.</summary>
    protected override void Dispose(bool disposing)
    {
    }
}
