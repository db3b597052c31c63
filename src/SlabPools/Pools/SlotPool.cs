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

    /// <summary>The pool's <see cref="HotTier{T}"/> of owners, for the owners' slow paths (null when the owners carry hot id -1).</summary>
    internal object? HotTier;

    // The ring index of the owner rented last: a rent from the magazines hands out the next one.
    // Written only by the thread that holds the slot (between its allocation and its free), or by
    // whoever moves the slot's next owner from a hot tier down to the magazines' backend.
    internal int Generation;

    internal SlotGroup(SlabCache cache, Slab slab, int index, int ownersPerSlot, Func<SlotGroup, object> createOwner, int hotId, int classIndex)
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

        // The owners form a ring: disposing owner k makes owner k + 1 the slot's next (see the class remarks).
        for (int i = 0; i < ownersPerSlot; i++)
        {
            ((ISlotOwner)Owners[i]).Link(Owners[(i + 1) & (ownersPerSlot - 1)], i, hotId, classIndex);
        }
    }

    internal int Length => Cache.ObjectSize;

    internal int Offset => Index * Slab.Stride;
}

/// <summary>What the pools need of an owner beyond its public face.</summary>
internal interface ISlotOwner
{
    /// <summary>The slot.</summary>
    SlotGroup Group { get; }

    /// <summary>The owner's place in its slot's ring.</summary>
    int RingIndex { get; }

    /// <summary>Called once, when the slot's owners are made: the ring's next owner and the hot tier the owner returns to (-1: none).</summary>
    void Link(object next, int ringIndex, int hotId, int classIndex);
}

/// <summary>An owner's place among its slot's owners, set once when the slot is made.</summary>
/// <typeparam name="TOwner">The owner type.</typeparam>
internal struct OwnerLink<TOwner>
    where TOwner : class
{
    /// <summary>The ring's next owner: the one a Dispose makes the slot's next.</summary>
    internal TOwner Next;

    /// <summary>This owner's index in the ring.</summary>
    internal int RingIndex;

    /// <summary>The pool's hot tier to return to (-1: none, the slow path).</summary>
    internal int HotId;

    /// <summary>The slot's size class.</summary>
    internal int ClassIndex;

    internal OwnerLink(object next, int ringIndex, int hotId, int classIndex)
    {
        Next = (TOwner)next;
        RingIndex = ringIndex;
        HotId = hotId;
        ClassIndex = classIndex;
    }
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
/// <remarks>
/// <para>Tiers, fastest first: the pool's <see cref="HotTier{T}"/> of owners (per thread one free
/// slot's next owner per class: rent takes it, dispose puts the ring's next owner there), then the
/// per-thread magazines of slot groups, then the cache's slabs. The pools' fast paths (in
/// <see cref="SlabMemoryPool"/>, <see cref="NativeBufferPool"/> and the owners' Dispose) touch only
/// the hot tier; everything else starts here.</para>
/// <para>Derived caches (debugging) and clear-on-return have no hot tier and no magazines of
/// owners: their owners carry hot id -1 and every operation takes the cache's own path.</para>
/// </remarks>
internal sealed class SlotPool<TOwner>
    where TOwner : class, ISlotOwner
{
    private readonly SlabAllocator _allocator;
    private readonly PageAllocator _pages;
    private readonly string _prefix;
    private readonly int _ownersPerSlot;
    private readonly Func<SlotGroup, object> _createOwner;
    private readonly SlabCache?[] _caches = new SlabCache?[SizeClasses.CountConst];
    private readonly HotTier<TOwner>? _hot;

    // The pool's per-thread tier behind the hot one: magazines of slot groups, so that a rent finds
    // its owner without going through the slab (null for derived caches, which take their own slow path).
    private readonly ThreadCache<SlotGroup>?[] _magazines = new ThreadCache<SlotGroup>?[SizeClasses.CountConst];
    private readonly Lock _createLock = new();

    internal SlotPool(SlabAllocator allocator, PageAllocator pages, string prefix, Func<SlotGroup, object> createOwner)
    {
        _allocator = allocator;
        _pages = pages;
        _prefix = prefix;
        _createOwner = createOwner;
        _ownersPerSlot = (allocator.Options.Debug & (SlabDebugFlags.ConsistencyChecks | SlabDebugFlags.Track)) != 0 ? 8 : 2;
        if (allocator.Options.Debug == SlabDebugFlags.None && !allocator.Options.ClearOnReturn)
        {
            _hot = new HotTier<TOwner>();
            HotId = _hot.Id;
        }
    }

    /// <summary>Buffers above this size are rounded up to whole multiples of it (see <see cref="ClassIndexOf"/>).</summary>
    internal const int PageGranule = 4096;

    /// <summary>The id of the pool's hot tier (-1: none, every rent takes <see cref="Rent"/>).</summary>
    internal int HotId { get; } = -1;

    /// <summary>
    /// The class for a buffer of <paramref name="size"/> bytes (1..MaxSize). Sizes above 4 KiB are
    /// first rounded up to a multiple of 4 KiB: buffer users (Pipelines, sockets) take whatever
    /// length they get, and using only the 4 KiB-multiple classes keeps a spread of request sizes
    /// from holding partial slabs in many classes.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static int ClassIndexOf(int size)
    {
        if (size > PageGranule)
        {
            size = (size + PageGranule - 1) & ~(PageGranule - 1);
        }

        return SizeClasses.IndexOf(size);
    }

    /// <summary>Rents the next owner of a free slot of class <paramref name="index"/> from the magazines or the slabs (the hot tier was empty).</summary>
    /// <param name="table">The calling thread's table, as the caller read it for the hot tier.</param>
    /// <param name="index">The class.</param>
    [MethodImpl(MethodImplOptions.NoInlining)]
    internal TOwner Rent(MagazineBase?[]? table, int index)
    {
        ThreadCache<SlotGroup>? magazines = _magazines[index];
        SlotGroup group;
        if (magazines is not null && ThreadCache<SlotGroup>.TryPop(table, magazines.Id, out group))
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
        _hot?.OnSlowPath();
        SlotGroup group = magazines.PopSlow();
        if (!FreeCookie.IsMarked(group.Address))
        {
            cache.ReportWrittenAfterFree(group.Slab, group.Address);
        }

        FreeCookie.Wipe(group.Address);
        return group;
    }

    /// <summary>
    /// The fast half of an owner's Dispose with a hot tier (<c>link.HotId &gt;= 0</c>): marks the slot
    /// at <paramref name="address"/> free and makes the ring's next owner the calling thread's hot
    /// owner of the class.
    /// </summary>
    /// <param name="address">The slot's address.</param>
    /// <param name="group">The slot.</param>
    /// <param name="link">The disposing owner's link.</param>
    /// <param name="table">The thread's table as read here, for the caller's <see cref="PushToMagazine"/>.</param>
    /// <returns>
    /// The owner the hot slot held before, whose slot the caller sends down with
    /// <see cref="PushToMagazine"/> (passing that owner's fields: no interface call on this path); null
    /// when the slot was empty or the thread had no hot state (then the slot went down already).
    /// </returns>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static TOwner? ReturnToHot(nint address, SlotGroup group, in OwnerLink<TOwner> link, out MagazineBase?[]? table)
    {
        FreeCookie.Mark(address);
        table = ThreadCacheTable.t_table; // read once for both tiers
        if (HotTier<TOwner>.TryPut(table, link.HotId, link.ClassIndex, link.Next, out TOwner? displaced))
        {
            return displaced;
        }

        ReturnWithoutHotState(group, link.RingIndex + 1);
        return null;
    }

    // The thread had no hot state (or a flush was in progress): give it one, and send the slot down.
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void ReturnWithoutHotState(SlotGroup group, int nextRingIndex)
    {
        ((HotTier<TOwner>)group.HotTier!).OnSlowPath();
        PushToMagazine(ThreadCacheTable.t_table, group, nextRingIndex & (group.Owners.Length - 1));
    }

    /// <summary>
    /// The slow half of an owner's Dispose with a hot tier: the slot of <paramref name="group"/> is
    /// marked free already and its next owner (ring index <paramref name="nextRingIndex"/>) goes
    /// down to the magazines, because the hot slot held another owner (displaced by this one) or
    /// the thread has no hot state yet. The owners pass their fields (no interface call here) and
    /// the thread's table as they read it for the hot tier (null: read it again).
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    internal static void PushToMagazine(MagazineBase?[]? table, SlotGroup group, int nextRingIndex)
    {
        group.Generation = nextRingIndex - 1;
        ThreadCache<SlotGroup> magazines = group.Magazines!;
        if (!ThreadCache<SlotGroup>.TryPush(table, magazines.Id, group))
        {
            magazines.PushSlow(group);
        }
    }

    /// <summary>The slow path of a Dispose that found no hot tier: gives the slot back (the owner has checked that it was rented).</summary>
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
                int hotId = -1;
                cache = _allocator.CreateSlotCache(
                    _prefix + size.ToString(System.Globalization.CultureInfo.InvariantCulture),
                    size,
                    _pages,
                    (slab, i) => new SlotGroup(slab.Cache, slab, i, ownersPerSlot, createOwner, hotId, index) { Magazines = magazines, HotTier = hotId >= 0 ? _hot : null });
                if (!cache.IsDerived)
                {
                    var backend = new SlabCache.Backend<SlotGroup, SlotGroupCodec>(cache);
                    magazines = new ThreadCache<SlotGroup>(SlabCache.MagazineCapacityFor(size), backend, SlabCache.DepotBatchesFor(size));
                    cache.RegisterThreadCache(magazines);
                    if (_hot is not null && !cache.ClearOnFree)
                    {
                        cache.RegisterThreadCache(_hot.Attach(index, new OwnerSink(backend)));
                        hotId = _hot.Id;
                    }

                    Volatile.Write(ref _magazines[index], magazines);
                }

                Volatile.Write(ref _caches[index], cache);
            }

            return cache;
        }
    }

    /// <summary>Where a flush of the hot tier sends owners: their slots go down to the slabs, each remembering which owner is next.</summary>
    private sealed class OwnerSink(IMagazineBackend<SlotGroup> backend) : IHotSink<TOwner>
    {
        public void Drain(ReadOnlySpan<TOwner> objects)
        {
            foreach (TOwner owner in objects)
            {
                SlotGroup group = owner.Group;
                group.Generation = owner.RingIndex - 1;
                backend.Drain(new ReadOnlySpan<SlotGroup>(in group));
            }
        }
    }
}
