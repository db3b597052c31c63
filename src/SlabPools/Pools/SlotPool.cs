using System;
using System.Runtime.CompilerServices;
using System.Threading;
using SlabPools.Pages;
using SlabPools.Slabs;

namespace SlabPools.Pools;

/// <summary>
/// The owners of one slab slot. <see cref="System.Buffers.IMemoryOwner{T}"/> needs an object, and making one per
/// rent would be garbage, so each slot is constructed with its owners when its slab is made (the
/// seed's constructor cache: objects stay constructed while free).
/// </summary>
/// <remarks>
/// A slot has several owners, used in turn: a rent takes the next one. A stale owner (disposed
/// again after its slot was rented anew) is then a different, non-rented object, and its second
/// Dispose is caught as a double free instead of returning someone else's buffer. With
/// <c>K</c> owners per slot this holds while fewer than <c>K</c> rents of the slot have happened in
/// between: <c>K</c> is 2 normally and 8 with <see cref="SlabDebugFlags.ConsistencyChecks"/> or
/// <see cref="SlabDebugFlags.Track"/>.
/// </remarks>
internal sealed class SlotGroup
{
    internal readonly SlabCache Cache;
    internal readonly Slab Slab;
    internal readonly int Index;
    internal readonly object[] Owners;

    /// <summary>The slot's address (kept here: the fast path needs it without touching the slab).</summary>
    internal readonly nint Address;

    /// <summary>The pool's per-thread tier for this slot's cache (null for derived caches, which have none).</summary>
    internal ThreadCache<SlotGroup>? Magazines;

    // Written only by the thread that holds the slot (between its allocation and its free).
    internal int Generation;

    internal SlotGroup(SlabCache cache, Slab slab, int index, int ownersPerSlot, Func<SlotGroup, object> createOwner)
    {
        Cache = cache;
        Slab = slab;
        Index = index;
        Address = slab.AddressOf(index);
        Owners = new object[ownersPerSlot];
        for (int i = 0; i < ownersPerSlot; i++)
        {
            Owners[i] = createOwner(this);
        }
    }

    internal int Length => Cache.ObjectSize;

    internal int Offset => Index * Slab.Stride;
}

/// <summary>Slot groups are the items of a memory pool's magazines.</summary>
internal readonly struct SlotGroupCodec : ISlotCodec<SlotGroup>
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static SlotGroup Encode(Slab slab, int index) => Unsafe.As<SlotGroup>(slab.Slots![index]!);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Slab Decode(in SlotGroup item, out int index)
    {
        index = item.Index;
        return item.Slab;
    }
}

/// <summary>
/// The machinery shared by the two memory pools: one slab cache per size class (created on first
/// use, with slot owners made by the caches' slot constructor), rent and return by slot.
/// </summary>
internal sealed class SlotPool<TOwner>
    where TOwner : class
{
    private readonly SlabAllocator _allocator;
    private readonly PageAllocator _pages;
    private readonly string _prefix;
    private readonly int _ownersPerSlot;
    private readonly Func<SlotGroup, object> _createOwner;
    private readonly SlabCache?[] _caches = new SlabCache?[SizeClasses.Count];

    // The pool's per-thread tier: magazines of slot groups, so that a rent finds its owner without
    // going through the slab (null for derived caches, which take their own slow path).
    private readonly ThreadCache<SlotGroup>?[] _magazines = new ThreadCache<SlotGroup>?[SizeClasses.Count];
    private readonly Lock _createLock = new();

    internal SlotPool(SlabAllocator allocator, PageAllocator pages, string prefix, Func<SlotGroup, object> createOwner)
    {
        _allocator = allocator;
        _pages = pages;
        _prefix = prefix;
        _createOwner = createOwner;
        _ownersPerSlot = (allocator.Options.Debug & (SlabDebugFlags.ConsistencyChecks | SlabDebugFlags.Track)) != 0 ? 8 : 2;
    }

    /// <summary>Buffers above this size are rounded up to whole multiples of it (see <see cref="Rent"/>).</summary>
    internal const int PageGranule = 4096;

    /// <summary>
    /// Rents the next owner of a free slot of the class for <paramref name="size"/> (1..MaxSize).
    /// Sizes above 4 KiB are first rounded up to a multiple of 4 KiB: buffer users (Pipelines,
    /// sockets) take whatever length they get, and using only the 4 KiB-multiple classes keeps a
    /// spread of request sizes from holding partial slabs in many classes.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal TOwner Rent(int size)
    {
        if (size > PageGranule)
        {
            size = (size + PageGranule - 1) & ~(PageGranule - 1);
        }

        int index = SizeClasses.IndexOf(size);
        ThreadCache<SlotGroup>? magazines = _magazines[index];
        SlotGroup group;
        if (magazines is not null && magazines.TryPop(out group))
        {
            // Plain caches only (derived ones have no magazines): the mark is at FreeCookie's offset.
            if (!FreeCookie.IsMarked(group.Address))
            {
                group.Cache.ReportWrittenAfterFree(group.Slab, group.Address);
            }

            FreeCookie.Wipe(group.Address);
        }
        else
        {
            group = RentSlow(index);
        }

        object[] owners = group.Owners;
        int next = ++group.Generation;
        return Unsafe.As<TOwner>(owners[next & (owners.Length - 1)]);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private SlotGroup RentSlow(int index)
    {
        SlabCache cache = _caches[index] ?? CreateCache(index);
        ThreadCache<SlotGroup>? magazines = _magazines[index];
        if (magazines is null)
        {
            // A derived cache (debugging): its own slow path does the checks. Slots always hold a
            // SlotGroup (the slot constructor makes one per slot).
            SlabObject o = cache.AllocateObject();
            return Unsafe.As<SlotGroup>(o.Slab.Slots![o.Index]!);
        }

        _allocator.ThrowIfDisposed();
        SlotGroup group = magazines.PopSlow();
        if (!FreeCookie.IsMarked(group.Address))
        {
            cache.ReportWrittenAfterFree(group.Slab, group.Address);
        }

        FreeCookie.Wipe(group.Address);
        return group;
    }

    /// <summary>Gives a slot back (the owner has checked that it was rented).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void Return(SlotGroup group)
    {
        ThreadCache<SlotGroup>? magazines = group.Magazines;
        if (magazines is null)
        {
            group.Cache.FreeObject(new SlabObject(group.Slab, group.Index));
            return;
        }

        if (group.Cache.ClearOnFree)
        {
            group.Cache.ClearObject(group.Address);
        }

        FreeCookie.Mark(group.Address);
        if (!magazines.TryPush(group))
        {
            magazines.PushSlow(group);
        }
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private SlabCache CreateCache(int index)
    {
        lock (_createLock)
        {
            SlabCache? cache = _caches[index];
            if (cache is null)
            {
                int size = SizeClasses.SizeAt(index);
                int ownersPerSlot = _ownersPerSlot;
                Func<SlotGroup, object> createOwner = _createOwner;
                ThreadCache<SlotGroup>? magazines = null;
                cache = _allocator.CreateSlotCache(
                    _prefix + size.ToString(System.Globalization.CultureInfo.InvariantCulture),
                    size,
                    _pages,
                    (slab, i) => new SlotGroup(slab.Cache, slab, i, ownersPerSlot, createOwner) { Magazines = magazines });
                if (!cache.IsDerived)
                {
                    magazines = new ThreadCache<SlotGroup>(SlabCache.MagazineCapacityFor(size), new SlabCache.Backend<SlotGroup, SlotGroupCodec>(cache));
                    cache.RegisterThreadCache(magazines);
                    Volatile.Write(ref _magazines[index], magazines);
                }

                Volatile.Write(ref _caches[index], cache);
            }

            return cache;
        }
    }
}
