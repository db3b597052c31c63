using System;
using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Threading;
using SlabPools.Pages;
using SlabPools.Slabs;

namespace SlabPools.Pools;

/// <summary>
/// The owners of slab slots. <see cref="System.Buffers.IMemoryOwner{T}"/> needs an object, and making one
/// per rent would be garbage, so each slot is constructed with its owners when its slab is made (the
/// seed's constructor cache: objects stay constructed while free), and nothing else: an owner
/// carries its slot (slab, index, address) itself, so a slot costs its owners and one reference.
/// </summary>
/// <remarks>
/// <para>A slot has several owners, linked in a ring and used in turn: a rent takes the slot's next
/// owner, and a Dispose makes the ring's next one the slot's next. A stale owner (disposed again
/// after its slot was rented anew) is then a different, non-rented object, and its second Dispose
/// is caught as a double free instead of returning someone else's buffer. With <c>K</c> owners per
/// slot this holds while fewer than <c>K</c> rents of the slot have happened in between: <c>K</c> is
/// 2 normally and 8 with <see cref="SlabDebugFlags.ConsistencyChecks"/> or <see cref="SlabDebugFlags.Track"/>.</para>
/// <para><b>Where a free slot's next owner is.</b> While the slot is free in a hot slot, a magazine
/// or a depot, those hold the next owner itself. While it is free on its slab, the slab's
/// <see cref="Slab.Slots"/> entry holds it: written by whoever gives the slot back to the slab
/// (<see cref="OwnerBackend{TOwner}.Drain"/>, before the slab can hand it out again) and read by
/// whoever takes it from the slab (<see cref="OwnerCodec{TOwner}.Encode"/>, after). Derived caches
/// (debugging) have no magazines: their rent takes the entry and advances it to the ring's next.</para>
/// </remarks>
internal static class SlotOwners
{
    /// <summary>Makes the <paramref name="count"/> owners of slot <paramref name="index"/>, linked in a ring; returns the first (the slot's next owner).</summary>
    internal static object CreateRing(Slab slab, int index, int count, Func<Slab, int, object> create, int hotId, int classIndex, int magazineId)
    {
        Debug.Assert((uint)classIndex < SizeClasses.CountConst && SizeClasses.CountConst <= byte.MaxValue + 1, "the owners keep the class in a byte");
        object first = create(slab, index);
        object previous = first;
        for (int i = 1; i < count; i++)
        {
            object owner = create(slab, index);
            ((ISlotOwner)previous).Link(owner, hotId, classIndex, magazineId);
            previous = owner;
        }

        ((ISlotOwner)previous).Link(first, hotId, classIndex, magazineId);
        return first;
    }
}

/// <summary>What the pools need of an owner beyond its public face (slow paths only: an interface call).</summary>
internal interface ISlotOwner
{
    /// <summary>The slot's slab.</summary>
    Slab Slab { get; }

    /// <summary>The slot's index in its slab.</summary>
    int Index { get; }

    /// <summary>The slot's address.</summary>
    nint SlotAddress { get; }

    /// <summary>The ring's next owner: the one a Dispose makes the slot's next.</summary>
    object NextOwner { get; }

    /// <summary>Called once, when the slot's owners are made: the ring's next owner, the hot tier the owner returns to (-1: none), its class and the id of its slot's magazines (-1: none).</summary>
    void Link(object next, int hotId, int classIndex, int magazineId);
}

/// <summary>An owner's place among its slot's owners and its pool's tiers, set once when the slot is made.</summary>
/// <remarks>
/// Sixteen bytes: the slot's class, which the hot tier also needs, is a byte field of the owner
/// itself (with a third int here the struct would pad to 24 bytes, 16 more per slot's two owners).
/// </remarks>
/// <typeparam name="TOwner">The owner type.</typeparam>
internal struct OwnerLink<TOwner>
    where TOwner : class
{
    /// <summary>The ring's next owner: the one a Dispose makes the slot's next.</summary>
    internal TOwner Next;

    /// <summary>The pool's hot tier to return to (-1: none, the slow path).</summary>
    internal int HotId;

    /// <summary>The id of the slot's magazines (a <see cref="ThreadCache{T}"/> of owners; -1: none).</summary>
    internal int MagazineId;

    internal OwnerLink(object next, int hotId, int magazineId)
    {
        Next = (TOwner)next;
        HotId = hotId;
        MagazineId = magazineId;
    }
}

/// <summary>
/// The items of a memory pool's magazines and depot are the next owners of free slots, as in its hot
/// tier: a rent from a magazine hands out the owner it pops. From the slabs, a slot's next owner is
/// its <see cref="Slab.Slots"/> entry (see <see cref="SlotOwners"/>).
/// </summary>
/// <typeparam name="TOwner">The owner type.</typeparam>
internal readonly struct OwnerCodec<TOwner> : ISlotCodec<TOwner>
    where TOwner : class, ISlotOwner
{
    public static TOwner Encode(Slab slab, int index) => Unsafe.As<TOwner>(slab.Slots![index]!);

    public static Slab Decode(in TOwner item, out int index)
    {
        index = item.Index;
        return item.Slab;
    }
}

/// <summary>
/// The slab layer behind a memory pool's magazines and hot tier: owners in, owners out. A drain first
/// records each slot's next owner in its slab's <see cref="Slab.Slots"/> entry, so that the slab
/// hands the slot out again with that owner and a stale owner stays caught.
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
            owner.Slab.Slots![owner.Index] = owner;
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
/// per-thread magazines of next owners and the cache's depot, then the cache's slabs. The pools'
/// fast paths (in <see cref="SlabMemoryPool"/>, <see cref="NativeBufferPool"/> and the owners'
/// Dispose) touch the hot tier and, by id, the magazines; everything else starts here.</para>
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
    private readonly Func<Slab, int, object> _createOwner;
    private readonly SlabCache?[] _caches = new SlabCache?[SizeClasses.CountConst];
    private readonly HotTier<TOwner>? _hot;

    // The pool's per-thread tier behind the hot one: magazines of the next owners of free slots, so
    // that a rent finds its owner without going through the slab (null for derived caches, which take
    // their own slow path).
    private readonly ThreadCache<TOwner>?[] _magazines = new ThreadCache<TOwner>?[SizeClasses.CountConst];
    private readonly Lock _createLock = new();

    internal SlotPool(SlabAllocator allocator, PageAllocator pages, string prefix, Func<Slab, int, object> createOwner)
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
            size = (size + PageGranule - 1) & ~(PageGranule - 1); // still at most MaxSize, a multiple of 4 KiB
        }

        return SizeClasses.IndexOfInRange(size);
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
        if (magazines is null)
        {
            // A derived cache (debugging): its own slow path does the checks. The slot's entry is
            // its next owner (see SlotOwners); the rent advances it to the ring's next.
            SlabObject o = cache.AllocateObject();
            object?[] slots = o.Slab.Slots!;
            TOwner rented = Unsafe.As<TOwner>(slots[o.Index]!);
            slots[o.Index] = rented.NextOwner;
            return rented;
        }

        _allocator.ThrowIfDisposed();
        _hot?.OnSlowPath();
        TOwner owner = magazines.PopSlow();
        nint address = owner.SlotAddress;

        // Plain caches only (derived ones have no magazines): the mark is at FreeCookie's offset.
        if (!FreeCookie.IsMarked(address))
        {
            cache.ReportWrittenAfterFree(owner.Slab, address);
        }

        FreeCookie.Wipe(address);
        return owner;
    }

    /// <summary>
    /// The fast half of an owner's Dispose with a hot tier (<c>link.HotId &gt;= 0</c>): marks the slot
    /// at <paramref name="address"/> free and makes the ring's next owner the calling thread's hot
    /// owner of the class.
    /// </summary>
    /// <param name="address">The slot's address.</param>
    /// <param name="slab">The slot's slab.</param>
    /// <param name="link">The disposing owner's link.</param>
    /// <param name="classIndex">The slot's size class.</param>
    /// <param name="hot">The thread's primary hot state, for the caller's <see cref="PushToMagazine(HotState{TOwner}, int, TOwner)"/>.</param>
    /// <returns>
    /// The owner the hot slot held before, whose slot the caller sends down with
    /// <see cref="PushToMagazine(HotState{TOwner}, int, TOwner)"/> (passing that owner's fields: no
    /// interface call on this path); null when the slot was empty or the thread's primary hot state
    /// was not this pool's (then the slot went where it belongs already).
    /// </returns>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static TOwner? ReturnToHot(nint address, Slab slab, in OwnerLink<TOwner> link, int classIndex, out HotState<TOwner>? hot)
    {
        FreeCookie.Mark(address);
        hot = HotTier<TOwner>.Primary;
        if (HotTier<TOwner>.TryPut(hot, link.HotId, classIndex, link.Next, out TOwner? displaced))
        {
            return displaced;
        }

        ReturnOffPrimary(hot, slab, link.Next, link.HotId, classIndex, link.MagazineId);
        return null;
    }

    // The thread's primary hot state is another pool's (or there is none, or a flush is in
    // progress): this pool's state in the thread's table takes the owner, the one it displaces
    // goes down to the magazine (every owner of one class of one pool has the same magazine id).
    // Otherwise the tier's slow path runs, as it always did here (it gives the thread a state, or
    // once the tier is closed empties what a busy owner kept through the close), and the owner
    // goes down.
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void ReturnOffPrimary(HotState<TOwner>? primary, Slab slab, TOwner next, int hotId, int classIndex, int magazineId)
    {
        MagazineBase?[]? table = HotTier<TOwner>.TableOf(primary);
        HotState<TOwner>? own = HotTier<TOwner>.OffPrimary(table, primary, hotId);
        if (HotTier<TOwner>.TryPut(own, hotId, classIndex, next, out TOwner? displaced))
        {
            if (displaced is not null)
            {
                PushToMagazine(table, magazineId, displaced);
            }

            return;
        }

        ((HotTier<TOwner>)slab.Cache.PoolHotTier!).OnSlowPath();
        PushToMagazine(ThreadCacheTable.t_table, magazineId, next); // read again: the slow path may have grown the table
    }

    /// <summary>
    /// An owner displaced from the hot slot of <paramref name="hot"/> (the thread's primary state, as
    /// <see cref="ReturnToHot"/> gave it) by a Dispose goes down to the calling thread's magazine
    /// <paramref name="magazineId"/> (the displaced owner's own field, passed by the caller).
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    internal static void PushToMagazine(HotState<TOwner> hot, int magazineId, TOwner next) => PushToMagazine(hot.ThreadTable, magazineId, next);

    /// <summary>
    /// The slow half of an owner's Dispose with a hot tier: a free slot's next owner
    /// <paramref name="next"/> goes down to the magazines (id <paramref name="magazineId"/>), because
    /// the hot slot held it and was taken by another (displaced), or the thread has no hot state
    /// yet. The owners pass their fields (no interface call here) and the thread's table.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void PushToMagazine(MagazineBase?[]? table, int magazineId, TOwner next)
    {
        if (!ThreadCache<TOwner>.TryPush(table, magazineId, next))
        {
            PushSlow(next);
        }
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void PushSlow(TOwner next) => Unsafe.As<ThreadCache<TOwner>>(next.Slab.Cache.PoolMagazines!).PushSlow(next);

    /// <summary>
    /// The slow path of a Dispose that found no hot tier (clear-on-return, or a derived cache): gives
    /// the slot at <paramref name="address"/> (index <paramref name="index"/> of <paramref name="slab"/>)
    /// back, with <paramref name="next"/> as its next owner (the owner has checked that it was rented).
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    internal static void Return(Slab slab, int index, nint address, TOwner next, int magazineId)
    {
        SlabCache cache = slab.Cache;
        if (cache.PoolMagazines is null)
        {
            // Derived: the slot's entry already names its next owner (the rent advanced it).
            cache.FreeObject(new SlabObject(slab, index));
            return;
        }

        if (cache.ClearOnFree)
        {
            cache.ClearObject(address);
        }

        FreeCookie.Mark(address);
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
                Func<Slab, int, object> createOwner = _createOwner;
                ThreadCache<TOwner>? magazines = null;
                int hotId = -1;
                cache = _allocator.CreateSlotCache(
                    _prefix + size.ToString(System.Globalization.CultureInfo.InvariantCulture),
                    size,
                    _pages,
                    (slab, i) => SlotOwners.CreateRing(slab, i, ownersPerSlot, createOwner, hotId, index, magazines?.Id ?? -1));
                if (!cache.IsDerived)
                {
                    var backend = new OwnerBackend<TOwner>(cache);
                    magazines = new ThreadCache<TOwner>(SlabCache.MagazineCapacityFor(size), backend, SlabCache.DepotBatchesFor(size));
                    cache.RegisterThreadCache(magazines);
                    if (_hot is not null && !cache.ClearOnFree)
                    {
                        cache.RegisterThreadCache(_hot.Attach(index, backend));
                        hotId = _hot.Id;
                        cache.PoolHotTier = _hot;
                    }

                    cache.PoolMagazines = magazines;

                    Volatile.Write(ref _magazines[index], magazines);
                    Volatile.Write(ref MagazineIds[index], magazines.Id);
                }

                Volatile.Write(ref _caches[index], cache);
            }

            return cache;
        }
    }
}
