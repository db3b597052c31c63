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

    /// <summary>The pool's per-thread tier for this slot's cache, a <c>ThreadCache&lt;TOwner&gt;</c> of the slots' next owners (null for derived caches, which have none).</summary>
    internal object? Magazines;

    /// <summary>The pool's <see cref="HotTier{T}"/> of owners, for the owners' slow paths (null when the owners carry hot id -1).</summary>
    internal object? HotTier;

    // Which owner is next, for a slot that is free on its slab: the one after ring index Generation
    // (see OwnerCodec). While the slot is rented, or free in a hot slot, a magazine or a depot, its
    // next owner is carried there and Generation is not read. Written by whoever gives the slot back
    // to the slab (OwnerBackend.Drain, before the slab can hand it out again); for derived caches,
    // which have no magazines, by the rent (the owner rented last).
    internal int Generation;

    internal SlotGroup(SlabCache cache, Slab slab, int index, int ownersPerSlot, Func<SlotGroup, object> createOwner, int hotId, int classIndex, int magazineId)
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
            ((ISlotOwner)Owners[i]).Link(Owners[(i + 1) & (ownersPerSlot - 1)], i, hotId, classIndex, magazineId);
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

    /// <summary>Called once, when the slot's owners are made: the ring's next owner, the hot tier the owner returns to (-1: none) and the id of its slot's magazines (-1: none).</summary>
    void Link(object next, int ringIndex, int hotId, int classIndex, int magazineId);
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

    /// <summary>The id of the slot's magazines (a <see cref="ThreadCache{T}"/> of owners; -1: none).</summary>
    internal int MagazineId;

    internal OwnerLink(object next, int ringIndex, int hotId, int classIndex, int magazineId)
    {
        Next = (TOwner)next;
        RingIndex = ringIndex;
        HotId = hotId;
        ClassIndex = classIndex;
        MagazineId = magazineId;
    }
}

/// <summary>
/// The items of a memory pool's magazines and depot are the next owners of free slots, as in its hot
/// tier: a rent from a magazine hands out the owner it pops, touching neither the slot group nor its
/// ring. From the slabs, a slot's next owner is the one after ring index <see cref="SlotGroup.Generation"/>.
/// </summary>
/// <typeparam name="TOwner">The owner type.</typeparam>
internal readonly struct OwnerCodec<TOwner> : ISlotCodec<TOwner>
    where TOwner : class, ISlotOwner
{
    public static TOwner Encode(Slab slab, int index)
    {
        SlotGroup group = Unsafe.As<SlotGroup>(slab.Slots![index]!);
        object[] owners = group.Owners;
        return Unsafe.As<TOwner>(owners[(group.Generation + 1) & (owners.Length - 1)]);
    }

    public static Slab Decode(in TOwner item, out int index)
    {
        SlotGroup group = item.Group;
        index = group.Index;
        return group.Slab;
    }
}

/// <summary>
/// The slab layer behind a memory pool's magazines and hot tier: owners in, owners out. A drain first records in
/// each slot which owner is next (<see cref="SlotGroup.Generation"/>), so that the slab hands the
/// slot out again with that owner and a stale owner stays caught.
/// </summary>
/// <typeparam name="TOwner">The owner type.</typeparam>
internal sealed class OwnerBackend<TOwner>(SlabCache cache) : IMagazineBackend<TOwner>, IHotSink<TOwner>
    where TOwner : class, ISlotOwner
{
    public int Refill(Span<TOwner> destination) => cache.AllocateBatch<TOwner, OwnerCodec<TOwner>>(destination);

    public void Drain(ReadOnlySpan<TOwner> objects)
    {
        foreach (TOwner owner in objects)
        {
            owner.Group.Generation = owner.RingIndex - 1;
        }

        cache.FreeBatch<TOwner, OwnerCodec<TOwner>>(objects);
    }

    public void NoteActivity() => cache.NoteActivity();
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

    // The pool's per-thread tier behind the hot one: magazines of the next owners of free slots, so
    // that a rent finds its owner without going through the slab (null for derived caches, which take
    // their own slow path).
    private readonly ThreadCache<TOwner>?[] _magazines = new ThreadCache<TOwner>?[SizeClasses.CountConst];
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

    /// <summary>The id of the pool's hot tier (-1: none, every rent takes the magazines).</summary>
    internal int HotId { get; } = -1;

    /// <summary>
    /// Per class, the id of its magazines (-1 until the class's cache exists, and for derived
    /// caches): the pools' rent pops them by id with their concrete owner type, then calls
    /// <see cref="RentSlow"/> when they are empty.
    /// </summary>
    internal int[] MagazineIds { get; } = NoMagazines();

    private static int[] NoMagazines()
    {
        var ids = new int[SizeClasses.CountConst];
        ids.AsSpan().Fill(-1);
        return ids;
    }

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

    /// <summary>
    /// Rents the next owner of a free slot of class <paramref name="index"/> when the hot tier and
    /// the magazines' fast path had none: from the depot or the slabs (or the derived cache). The
    /// slot's free mark is checked and wiped; the caller marks the owner rented.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    internal TOwner RentSlow(int index)
    {
        SlabCache cache = _caches[index] ?? CreateCache(index);
        ThreadCache<TOwner>? magazines = _magazines[index];
        SlotGroup group;
        if (magazines is null)
        {
            // A derived cache (debugging): its own slow path does the checks. Slots always hold a
            // SlotGroup (the slot constructor makes one per slot); without magazines, Generation is
            // the ring index of the owner rented last.
            SlabObject o = cache.AllocateObject();
            group = Unsafe.As<SlotGroup>(o.Slab.Slots![o.Index]!);
            object[] owners = group.Owners;
            int next = ++group.Generation;
            return Unsafe.As<TOwner>(owners[next & (owners.Length - 1)]);
        }

        _allocator.ThrowIfDisposed();
        _hot?.OnSlowPath();
        TOwner owner = magazines.PopSlow();
        group = owner.Group;

        // Plain caches only (derived ones have no magazines): the mark is at FreeCookie's offset.
        if (!FreeCookie.IsMarked(group.Address))
        {
            cache.ReportWrittenAfterFree(group.Slab, group.Address);
        }

        FreeCookie.Wipe(group.Address);
        return owner;
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

        ReturnWithoutHotState(group, link.Next, link.MagazineId);
        return null;
    }

    // The thread had no hot state (or a flush was in progress): give it one, and send the slot down.
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void ReturnWithoutHotState(SlotGroup group, TOwner next, int magazineId)
    {
        ((HotTier<TOwner>)group.HotTier!).OnSlowPath();
        PushToMagazine(ThreadCacheTable.t_table, magazineId, next);
    }

    /// <summary>
    /// The slow half of an owner's Dispose with a hot tier: a free slot's next owner
    /// <paramref name="next"/> goes down to the magazines (id <paramref name="magazineId"/>), because
    /// the hot slot held it and was taken by another (displaced), or the thread has no hot state
    /// yet. The owners pass their fields (no interface call here) and the thread's table as they
    /// read it for the hot tier (null: read it again).
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    internal static void PushToMagazine(MagazineBase?[]? table, int magazineId, TOwner next)
    {
        if (!ThreadCache<TOwner>.TryPush(table, magazineId, next))
        {
            PushSlow(next);
        }
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void PushSlow(TOwner next) => Unsafe.As<ThreadCache<TOwner>>(next.Group.Magazines!).PushSlow(next);

    /// <summary>
    /// The slow path of a Dispose that found no hot tier (clear-on-return, or a derived cache): gives
    /// the slot of <paramref name="group"/> back, with <paramref name="next"/> as its next owner (the
    /// owner has checked that it was rented).
    /// </summary>
    internal static void Return(SlotGroup group, TOwner next, int magazineId)
    {
        if (group.Magazines is null)
        {
            group.Cache.FreeObject(new SlabObject(group.Slab, group.Index));
            return;
        }

        if (group.Cache.ClearOnFree)
        {
            group.Cache.ClearObject(group.Address);
        }

        FreeCookie.Mark(group.Address);
        PushToMagazine(ThreadCacheTable.t_table, magazineId, next);
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
                ThreadCache<TOwner>? magazines = null;
                int hotId = -1;
                cache = _allocator.CreateSlotCache(
                    _prefix + size.ToString(System.Globalization.CultureInfo.InvariantCulture),
                    size,
                    _pages,
                    (slab, i) => new SlotGroup(slab.Cache, slab, i, ownersPerSlot, createOwner, hotId, index, magazines?.Id ?? -1) { Magazines = magazines, HotTier = hotId >= 0 ? _hot : null });
                if (!cache.IsDerived)
                {
                    var backend = new OwnerBackend<TOwner>(cache);
                    magazines = new ThreadCache<TOwner>(SlabCache.MagazineCapacityFor(size), backend, SlabCache.DepotBatchesFor(size));
                    cache.RegisterThreadCache(magazines);
                    if (_hot is not null && !cache.ClearOnFree)
                    {
                        cache.RegisterThreadCache(_hot.Attach(index, backend));
                        hotId = _hot.Id;
                    }

                    Volatile.Write(ref _magazines[index], magazines);
                    Volatile.Write(ref MagazineIds[index], magazines.Id);
                }

                Volatile.Write(ref _caches[index], cache);
            }

            return cache;
        }
    }
}
