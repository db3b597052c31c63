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

    // Written only by the thread that holds the slot (between its allocation and its free).
    internal int Generation;

    internal SlotGroup(SlabCache cache, Slab slab, int index, int ownersPerSlot, Func<SlotGroup, object> createOwner)
    {
        Cache = cache;
        Slab = slab;
        Index = index;
        Owners = new object[ownersPerSlot];
        for (int i = 0; i < ownersPerSlot; i++)
        {
            Owners[i] = createOwner(this);
        }
    }

    internal nint Address => Slab.AddressOf(Index);

    internal int Length => Cache.ObjectSize;

    internal int Offset => Index * Slab.Stride;
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

        SlabCache cache = _caches[SizeClasses.IndexOf(size)] ?? CreateCache(SizeClasses.IndexOf(size));
        SlabObject o = cache.AllocateObject();

        // Slots of these caches always hold a SlotGroup (the slot constructor makes one per slot).
        SlotGroup group = Unsafe.As<SlotGroup>(o.Slab.Slots![o.Index]!);
        object[] owners = group.Owners;
        int next = ++group.Generation;
        return Unsafe.As<TOwner>(owners[next & (owners.Length - 1)]);
    }

    /// <summary>Gives a slot back (the owner has checked that it was rented).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void Return(SlotGroup group) => group.Cache.FreeObject(new SlabObject(group.Slab, group.Index));

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
                cache = _allocator.CreateSlotCache(
                    _prefix + size.ToString(System.Globalization.CultureInfo.InvariantCulture),
                    size,
                    _pages,
                    (slab, i) => new SlotGroup(slab.Cache, slab, i, ownersPerSlot, createOwner));
                Volatile.Write(ref _caches[index], cache);
            }

            return cache;
        }
    }
}
