using SlabPools.Slabs;
using System;
using System.Runtime.CompilerServices;
using System.Threading;
using SlabPools.Diagnostics;
using SlabPools.Pages;

namespace SlabPools;

/*
 * The Slabifier: a cache of fixed-size objects carved from slabs.
 *
 * Layout of the tiers, fastest first
 * ----------------------------------
 *   tier 0  per-thread magazines (ThreadCache<T>)   plain loads and stores, no atomics
 *   tier 1  per-CPU active slab (CpuSlot.Active)     one compare-and-swap on Slab.State per batch
 *   tier 2  per-node partial lists (NodePartialList) the node's lock
 *   tier 3  the page allocator                        a new slab
 *
 * An allocation pops from the thread's magazine; an empty magazine takes the whole free list of the
 * CPU's active slab in one compare-and-swap, keeps what fits and puts the rest back. An exhausted
 * active slab is unfrozen and replaced by a slab from the local node's partial list (then from other
 * nodes, then a new one). A free pushes onto the magazine; a full magazine gives its older half back,
 * each run of objects of one slab linked into a chain and pushed onto that slab's free list with one
 * compare-and-swap, whichever CPU or thread the slab belongs to (remote frees are just that).
 *
 * Slab states (the frozen bit and the free count of Slab.State, plus Slab.OnPartial)
 * ----------------------------------------------------------------------------------
 *   state     frozen  free count     on a list            who may allocate from it
 *   active    1       any            a CPU slot           threads on that CPU (compare-and-swap)
 *   partial   0       1..capacity    its node's list      nobody until frozen again
 *   full      0       0              none (no full list)  nobody; the first free makes it partial
 *   dead      -       capacity       none                 nobody: memory given back
 * An empty slab (free count == capacity) stays on its partial list until Shrink or the flusher
 * releases it, so a burst that comes back does not pay for new pages.
 *
 * Transitions, each done by exactly one thread:
 *   partial -> active   taker of the node lock (unlinks, then sets frozen)
 *   active  -> partial  the thread whose compare-and-swap removed it from the CPU slot (Unfreeze);
 *                       it adds the slab to its list if the free count is then > 0
 *   active  -> full     nobody: a drained active slab stays frozen until replaced
 *   full    -> partial  the free whose compare-and-swap saw (frozen == 0, free count == 0)
 *   partial -> dead     Shrink, holding the node lock, by compare-and-swap from (0, capacity)
 *
 * Lock order
 * ----------
 *   1. a magazine's SyncRoot (tier-0 slow path, or a flusher)
 *   2. a node's partial-list lock (NodePartialList.Lock)
 *   3. the cache's slab registry lock (_registryLock), then the allocator's SlabMap lock
 * The page allocator is called holding none of them.
 *
 * What guards what
 * ----------------
 *   Slab.State                     compare-and-swap only
 *   Slab.Prev/Next/OnPartial       the node's partial-list lock
 *   Slab.RegistryIndex, _slabs     _registryLock
 *   CpuSlot.Active                 compare-and-swap only; whoever swaps a slab out unfreezes it
 *   free-list links (bytes 0..3)   whoever owns the chain: the slab (through State) or the thread
 *                                  that took it by compare-and-swap
 *   counters (_slabsAllocated ...) Interlocked; read racily for statistics
 * The fast path touches only the calling thread's magazine and the object's own bytes 8..15 (the
 * free mark, see FreeCookie).
 *
 * Invariants
 * ----------
 *   per slab:   capacity == FreeCount(State) + objects outside the slab (handed out or in magazines)
 *   per cache:  TotalObjects == slabs * ObjectsPerSlab
 *               ActiveObjects == TotalObjects - sum(FreeCount over slabs) - sum(magazine counts)
 *               BytesReserved == sum(Block.Length over slabs)
 */

/// <summary>
/// A cache of fixed-size objects carved from slabs (the seed's Slabifier): per-thread and per-CPU
/// fast paths, per-node partial lists, the free list threaded through the free objects, double
/// frees caught when they happen. Objects are addressed by pointer and never move.
/// </summary>
/// <remarks>
/// Create caches with <see cref="SlabAllocator.CreateCache"/>. All members are thread-safe.
/// </remarks>
public sealed partial class SlabCache : IObjectCache
{
    private readonly SlabAllocator _owner;
    private readonly PageAllocator _pages;
    private readonly NodeTopology _topology;
    private readonly SlabMap _map;
    private readonly ErrorReporter _errors;
    private readonly Func<Slab, int, object>? _slotConstructor;
    private readonly ThreadCache<SlabObject> _objects;
    private readonly bool _debug;
    private readonly Lock _debugLock = new();

    internal SlabCache(SlabAllocator owner, string name, int objectSize, PageAllocator pages, SlabDebugFlags debug, Func<Slab, int, object>? slotConstructor = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        _owner = owner;
        Name = name;
        Geometry = SlabGeometry.For(objectSize);
        _pages = pages;
        _topology = owner.Topology;
        _map = owner.Map;
        _errors = owner.Reporter;
        _slotConstructor = slotConstructor;
        Debug = debug;
        _debug = debug != SlabDebugFlags.None;
        _cpuSlots = new CpuSlot[_topology.ProcessorCount];
        for (int i = 0; i < _cpuSlots.Length; i++)
        {
            _cpuSlots[i] = new CpuSlot();
        }

        _nodes = new NodePartialList[_topology.NodeCount];
        for (int i = 0; i < _nodes.Length; i++)
        {
            _nodes[i] = new NodePartialList();
        }

        _objects = new ThreadCache<SlabObject>(MagazineCapacityFor(objectSize), new Backend<SlabObject, SlabObjectCodec>(this));
        RegisterThreadCache(_objects);
    }

    /// <summary>The cache's name, for example <c>kmalloc-192</c>.</summary>
    public string Name { get; }

    /// <summary>Bytes per object.</summary>
    public int ObjectSize => Geometry.ObjectSize;

    /// <summary>Objects per slab.</summary>
    public int ObjectsPerSlab => Geometry.ObjectsPerSlab;

    /// <summary>Bytes per slab.</summary>
    public int SlabBytes => Geometry.SlabBytes;

    /// <summary>The debugging features of this cache.</summary>
    public SlabDebugFlags Debug { get; }

    /// <summary>The page allocator the slabs come from.</summary>
    public PageAllocator PageAllocator => _pages;

    internal SlabGeometry Geometry { get; }

    /// <summary>True for the kmalloc caches behind <see cref="NativeBufferPool.Allocate"/>.</summary>
    internal bool IsKmalloc { get; init; }

    internal SlabAllocator Owner => _owner;

    internal ErrorReporter Errors => _errors;

    /// <summary>Magazine size: about 64 KiB of objects per thread, between 8 and 64 objects.</summary>
    internal static int MagazineCapacityFor(int objectSize) => Math.Clamp(64 * 1024 / Math.Max(1, objectSize), 8, 64);

    /// <summary>Allocates one object. Its contents are unspecified.</summary>
    /// <returns>The object's address; it stays valid until the object is freed.</returns>
    /// <exception cref="OutOfMemoryException">No slab could be allocated; the cache is unchanged.</exception>
    /// <exception cref="ObjectDisposedException">The allocator was disposed.</exception>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public nint Allocate() => AllocateObject().Address;

    /// <summary>Allocates one object, named by slab and index (what the pools use: no address lookup).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal SlabObject AllocateObject()
    {
        if (!_debug && _objects.TryPop(out SlabObject o))
        {
            nint address = o.Address;
            if (!FreeCookie.IsMarked(address))
            {
                ReportWrittenAfterFree(o.Slab, address);
            }

            FreeCookie.Wipe(address);
            return o;
        }

        return AllocateObjectSlow();
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private SlabObject AllocateObjectSlow()
    {
        _owner.ThrowIfDisposed();
        SlabObject o = _debug ? AllocateDebug() : _objects.PopSlow();
        nint address = o.Address;
        if (!FreeCookie.IsMarked(address))
        {
            ReportWrittenAfterFree(o.Slab, address);
        }

        FreeCookie.Wipe(address);
        return o;
    }

    /// <summary>Frees an object whose slab and index the caller knows to be right (a pool's owner).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal void FreeObject(SlabObject o)
    {
        if (_debug)
        {
            FreeDebug(o.Slab, o.Index, o.Address);
            return;
        }

        FreeCookie.Mark(o.Address);
        if (!_objects.TryPush(o))
        {
            _objects.PushSlow(o);
        }
    }

    /// <summary>
    /// Frees an object. A double free, or a pointer that is not an object of this cache, is reported
    /// through <see cref="SlabAllocator.ErrorDetected"/> and otherwise ignored (or thrown with
    /// <see cref="SlabPoolsOptions.ThrowOnError"/>).
    /// </summary>
    /// <param name="address">An address returned by <see cref="Allocate"/>.</param>
    public void Free(nint address)
    {
        Slab? slab = _map.Find(address);
        int index;
        if (slab is null || !ReferenceEquals(slab.Cache, this) || (index = slab.IndexOf(address)) < 0)
        {
            ReportForeign(address, slab);
            return;
        }

        if (!_debug && FreeCookie.IsMarked(address))
        {
            ReportDoubleFree(slab, address);
            return;
        }

        FreeObject(new SlabObject(slab, index));
    }

    private SlabObject AllocateDebug()
    {
        lock (_debugLock)
        {
            SlabObject first = default;
            AllocateBatch<SlabObject, SlabObjectCodec>(new Span<SlabObject>(ref first));
            return first;
        }
    }

    private void FreeDebug(Slab slab, int index, nint address)
    {
        lock (_debugLock)
        {
            // Debug caches keep no magazines, so an object is free exactly when it is on its slab's list.
            if (IsOnFreeList(slab, index))
            {
                ReportDoubleFree(slab, address);
                return;
            }

            FreeCookie.Mark(address);
            FreeChain(slab, index, index, 1);
        }
    }

    private static bool IsOnFreeList(Slab slab, int index)
    {
        long state = Volatile.Read(ref slab.State);
        int i = SlabState.Head(state);
        for (int steps = SlabState.FreeCount(state); steps > 0 && (uint)i < (uint)slab.Capacity; steps--)
        {
            if (i == index)
            {
                return true;
            }

            i = slab.Capacity == 1 ? SlabState.None : FreeCookie.ReadLink(slab.AddressOf(i));
        }

        return false;
    }

    /// <summary>A snapshot of the cache's counts.</summary>
    public SlabCacheInfo GetInfo() => BuildInfo(Owner.AliasesOf(this));

    /// <summary>Releases the cache's empty slabs now, after returning per-CPU slabs and idle threads' magazines.</summary>
    /// <returns>Bytes given back to the page allocator.</returns>
    public long Shrink() => ShrinkCore(flushMagazines: true, keepEmptySlabs: 0);

    // ----- error reports -------------------------------------------------------------------------

    [MethodImpl(MethodImplOptions.NoInlining)]
    internal void ReportDoubleFree(Slab slab, nint address) =>
        _errors.Report(SlabErrorKind.DoubleFree, Name, $"object 0x{address:x} freed while it is already free", "object ignored; the cache is unchanged", address, address - slab.Base, ObjectSize);

    [MethodImpl(MethodImplOptions.NoInlining)]
    internal void ReportWrittenAfterFree(Slab slab, nint address) =>
        _errors.Report(SlabErrorKind.UseAfterFree, Name, $"free object 0x{address:x} was written after it was freed (its free mark is damaged)", "object handed out anyway; its contents are unspecified as always", address, address - slab.Base, ObjectSize);

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void ReportForeign(nint address, Slab? slab)
    {
        string problem = slab is null
            ? $"0x{address:x} is not in any slab"
            : !ReferenceEquals(slab.Cache, this)
                ? $"0x{address:x} belongs to cache {slab.Cache.Name}"
                : $"0x{address:x} is not the start of an object (offset {address - slab.Base} in its slab)";
        _errors.Report(SlabErrorKind.ForeignObject, Name, problem, "pointer ignored; the cache is unchanged", 0, slab is null ? -1 : address - slab.Base);
    }

    /// <inheritdoc/>
    public override string ToString() => $"{Name} ({ObjectSize} bytes, {ObjectsPerSlab} per slab)";
}
