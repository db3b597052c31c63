using System;
using System.Runtime.CompilerServices;
using System.Threading;
using SlabPools.Derived;
using SlabPools.Diagnostics;
using SlabPools.Pages;
using SlabPools.Slabs;

namespace SlabPools;

/*
 * The Slabifier: a cache of fixed-size objects carved from slabs.
 *
 * Layout of the tiers, fastest first
 * ----------------------------------
 *   pools   per-thread hot slot (HotTier<T>)         one free object per thread and class, in
 *                                                    front of the magazines of the pools' caches
 *   tier 0  per-thread magazines (ThreadCache<T>)   plain loads and stores, no atomics
 *           the magazine depot (MagazineDepot<T>)    full half-magazines passed between threads,
 *                                                    one spin-locked copy per batch
 *   tier 1  per-CPU active slab (CpuSlot.Active)     one compare-and-swap on Slab.State per batch
 *   tier 2  per-node partial lists (NodePartialList) the node's lock
 *   tier 3  the page allocator                        a new slab
 *
 * An allocation pops from the thread's magazine; an empty magazine takes a full batch from the depot
 * if there is one, else the whole free list of the CPU's active slab in one compare-and-swap, keeps
 * what fits and puts the rest back. An exhausted
 * active slab is unfrozen and replaced by a slab from the local node's partial list (then from other
 * nodes, then a new one). A free pushes onto the magazine; a full magazine leaves its older half in
 * the depot as one batch, or, when the depot is full, gives it back to the slabs, each run of
 * objects of one slab linked into a chain and pushed onto that slab's free list with one
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
 * releases it, so a burst that comes back does not pay for new pages. The flusher of a busy cache
 * releases only slabs that its previous tick found empty and that nobody took since (Takes equal
 * to EmptyAtTakes): a steady load keeps the slabs it cycles through.
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
 *   1. a hot state's or a magazine's SyncRoot (their slow paths, or a flusher); never both held
 *      (the depot's spin lock is held only to copy one batch, never while calling anything)
 *   2. a node's partial-list lock (NodePartialList.Lock)
 *   3. the cache's slab registry lock (_registryLock), then the allocator's SlabMap lock
 * The page allocator is called holding none of them.
 *
 * What guards what
 * ----------------
 *   Slab.State                     compare-and-swap only
 *   Slab.Prev/Next/OnPartial       the node's partial-list lock
 *   Slab.Takes/EmptyAtTakes        the node's partial-list lock
 *   Slab.RegistryIndex, _slabs     _registryLock
 *   CpuSlot.Active                 compare-and-swap only; whoever swaps a slab out unfreezes it
 *   free-list links (bytes 0..3,   whoever owns the chain: the slab (through State) or the thread
 *   or Slab.Links: side links)     that took it by compare-and-swap
 *   counters (_slabsAllocated ...) Interlocked; read racily for statistics
 * The fast path touches only the calling thread's magazine and the object's own bytes 8..15 (the
 * free mark, see FreeCookie).
 *
 * Invariants
 * ----------
 *   per slab:   capacity == FreeCount(State) + objects outside the slab (handed out, or in hot
 *               slots, magazines or the depot)
 *   per cache:  TotalObjects == slabs * ObjectsPerSlab
 *               ActiveObjects == TotalObjects - sum(FreeCount over slabs) - objects held free in
 *               hot slots, magazines and the depot
 *               BytesReserved == sum(Block.Length over slabs)
 */

/// <summary>
/// A cache of fixed-size objects carved from slabs (the seed's Slabifier): per-thread and per-CPU
/// fast paths, per-node partial lists, the free list threaded through the free objects (or kept
/// beside them, for objects of 1 KiB and more), double
/// frees caught when they happen. Objects are addressed by pointer and never move.
/// </summary>
/// <remarks>
/// Create caches with <see cref="SlabAllocator.CreateCache(string, int, SlabCacheOptions?)"/>. All members are thread-safe.
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

    // Derived caches (constructor, RCU, debugging) leave the fast path: every allocation and free
    // goes through _behavior under _derivedLock. Plain caches test this one flag and nothing else.
    private readonly bool _derived;
    private readonly DerivedBehavior? _behavior;
    private readonly Lock _derivedLock = new();
    private long _derivedAllocations; // guarded by _derivedLock; reported as slow allocations

    // Where a free object keeps its free-list link and its free mark: bytes 0 and 8 of a plain
    // cache's objects, the trailer behind the object in a derived cache (see DerivedBehavior).
    private readonly int _linkOffset;
    private readonly int _markOffset;

    // Side links: the free list of a plain cache of objects of SideLinksFrom bytes or more is kept in
    // an int per object beside the slab (Slab.Links), not in the objects. A refill from a slab
    // (AllocateBatch) then reads one small array instead of chasing a link through each free
    // object's first line, a cache miss per object, one after the other (the Kestrel burst's
    // 4 KiB blocks: AllocateBatch was 1.4-1.5% of the server's samples); a write after free can no
    // longer derail the chain; 4 bytes per object cost at most 0.4% of its size.
    private readonly bool _sideLinks;
    internal const int SideLinksFrom = 1024;

    // SlabPoolsOptions.ClearOnReturn: objects are zeroed when they come back (poisoned instead, in
    // a poisoning cache).
    private readonly bool _clearOnFree;

    internal SlabCache(SlabAllocator owner, string name, int objectSize, PageAllocator pages, SlabDebugFlags debug, Func<Slab, int, object>? slotConstructor = null, SlabCacheOptions? options = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        _owner = owner;
        Name = name;
        ObjectSize = objectSize;
        Options = options;
        _pages = pages;
        _topology = owner.Topology;
        _map = owner.Map;
        _errors = owner.Reporter;
        _slotConstructor = slotConstructor;
        Debug = debug;
        Move = options?.Move;
        TypesafeByRcu = options is not null && (options.TypesafeByRcu || options.DeferReuseByRcu);
        DeferReuseByRcu = options?.DeferReuseByRcu == true;
        _derived = debug != SlabDebugFlags.None || (options?.IsDerived(debug) ?? false);
        int alignment = options?.Alignment ?? 8;
        int size8 = (objectSize + 7) & ~7;
        if (_derived)
        {
            RedZoneEnd = size8 + ((debug & SlabDebugFlags.RedZone) != 0 ? RedZoneBehavior.Size : 0);
            _linkOffset = RedZoneEnd;
            RequestedOffset = RedZoneEnd + 4;
            _markOffset = RedZoneEnd + 8;
            Geometry = SlabGeometry.For(AlignUp(RedZoneEnd + 16, alignment));
            _behavior = BuildBehavior(debug, options);
        }
        else
        {
            _linkOffset = 0;
            _markOffset = FreeCookie.Offset;
            RedZoneEnd = size8;
            int stride = AlignUp(Math.Max(size8, FreeCookie.MinObjectSize), alignment);
            Geometry = SlabGeometry.ShouldColour(stride, pages.BlockAlignment, alignment)
                ? SlabGeometry.Coloured(stride)
                : SlabGeometry.For(stride);
            _sideLinks = stride >= SideLinksFrom && Geometry.ObjectsPerSlab > 1;
        }

        Alignment = alignment;
        // A poisoning cache overwrites every byte on free anyway (and a cleared object would fail
        // the poison check when it is next handed out).
        _clearOnFree = owner.Options.ClearOnReturn && !HasPart<PoisonBehavior>(_behavior);
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

        _objects = new ThreadCache<SlabObject>(MagazineCapacityFor(objectSize), new Backend<SlabObject, SlabObjectCodec>(this), DepotBatchesFor(objectSize));
        RegisterThreadCache(_objects);
    }

    private static int AlignUp(int value, int alignment) => checked((value + alignment - 1) & ~(alignment - 1));

    private static DerivedBehavior? BuildBehavior(SlabDebugFlags debug, SlabCacheOptions? options)
    {
        var parts = new System.Collections.Generic.List<DerivedBehavior>();
        if (options?.Constructor is not null || options?.Destructor is not null)
        {
            parts.Add(new ConstructorBehavior(options.Constructor, options.Destructor));
        }

        // Poisoning would destroy constructed state, so constructor caches are not poisoned (as in SLUB).
        if ((debug & SlabDebugFlags.Poison) != 0 && options?.Constructor is null)
        {
            parts.Add(new PoisonBehavior());
        }

        // Allocation runs the parts in this order and a free in the reverse order, so both go as in
        // SLUB: first the checks (poison on allocation, red zone on free), then tracking, then the
        // writes (red zone on allocation, poison on free).
        if ((debug & SlabDebugFlags.Track) != 0)
        {
            parts.Add(new TrackBehavior());
        }

        if ((debug & SlabDebugFlags.RedZone) != 0)
        {
            parts.Add(new RedZoneBehavior());
        }

        return parts.Count == 0 ? null : parts.Count == 1 ? parts[0] : new CompositeBehavior(parts);
    }

    private static bool HasPart<T>(DerivedBehavior? behavior)
        where T : DerivedBehavior
    {
        if (behavior is CompositeBehavior composite)
        {
            foreach (DerivedBehavior part in composite.Parts)
            {
                if (part is T)
                {
                    return true;
                }
            }

            return false;
        }

        return behavior is T;
    }

    /// <summary>The cache's name, for example <c>kmalloc-192</c>.</summary>
    public string Name { get; }

    /// <summary>Usable bytes per object.</summary>
    public int ObjectSize { get; }

    /// <summary>Objects per slab.</summary>
    public int ObjectsPerSlab => Geometry.ObjectsPerSlab;

    /// <summary>Bytes per slab.</summary>
    public int SlabBytes => Geometry.SlabBytes;

    /// <summary>The alignment of every object's address.</summary>
    public int Alignment { get; }

    /// <summary>The debugging features of this cache.</summary>
    public SlabDebugFlags Debug { get; }

    /// <summary>The page allocator the slabs come from.</summary>
    public PageAllocator PageAllocator => _pages;

    /// <summary>Slabs are released only after an RCU grace period.</summary>
    public bool TypesafeByRcu { get; }

    /// <summary>Objects are reused only after an RCU grace period.</summary>
    public bool DeferReuseByRcu { get; }

    internal SlabMoveCallback? Move { get; }

    internal SlabCacheOptions? Options { get; }

    internal SlabGeometry Geometry { get; }

    /// <summary>True for caches that run through derived behaviours instead of the fast path.</summary>
    internal bool IsDerived => _derived;

    internal DerivedBehavior? Behavior => _behavior;

    /// <summary>Offset of the requested size in a derived object's trailer.</summary>
    internal int RequestedOffset { get; }

    /// <summary>End of the red zone behind a derived object (the object size rounded up to 8 without RedZone).</summary>
    internal int RedZoneEnd { get; }

    /// <summary>True for the kmalloc caches behind <see cref="NativeBufferPool.Allocate"/>.</summary>
    internal bool IsKmalloc { get; init; }

    internal SlabAllocator Owner => _owner;

    internal ErrorReporter Errors => _errors;

    /// <summary>
    /// Magazine size: about 128 KiB of objects per thread and cache, between 2 and 64 objects (32
    /// for Kestrel's 4096-byte blocks, so that a burst trades with the slabs 16 buffers at a time:
    /// 8 at a time cost a 512-buffer burst 15% more per buffer). A thread that touches many size
    /// classes holds at most that much per class until the flusher takes it back.
    /// </summary>
    internal static int MagazineCapacityFor(int objectSize) => Math.Clamp(128 * 1024 / Math.Max(1, objectSize), 2, 64);

    /// <summary>
    /// Depot size: half-magazines (batches) a cache's depot holds at most, about 8 MiB of objects
    /// (128 batches of 16 buffers of 4 KiB), between 2 and 128 batches. The depot is where objects
    /// wait between the thread that returns them and the thread that rents them next, oldest first
    /// (see <see cref="Slabs.MagazineDepot{T}"/>): 2 MiB let a burst of 512 Kestrel blocks come
    /// back and go out again without touching the slabs (512 KiB measured 1.35-1.42x Kestrel's
    /// pool per buffer in such a burst where 2 MiB measured 1.14-1.23x); 8 MiB also lets a buffer
    /// that crossed threads wait long enough to leave the returning core's caches (a cross-thread
    /// stream of 4 KiB buffers: 1.10-1.16x Kestrel's pool with 2 MiB, 0.84-0.99x with 8 MiB). The
    /// flusher empties it when the cache goes idle; the ring itself is one array of references
    /// (16 KiB for 4 KiB objects, at most 32 KiB), made when the size class is first used.
    /// </summary>
    internal static int DepotBatchesFor(int objectSize)
    {
        int batchBytes = Math.Max(1, MagazineCapacityFor(objectSize) / 2) * Math.Max(1, objectSize);
        return Math.Clamp(8192 * 1024 / batchBytes, 2, 128);
    }

    // ----- free-list link and free mark, at this cache's offsets (slow paths only) ----------------

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private unsafe int ReadLink(Slab slab, int index) =>
        slab.Links is { } links ? links[index] : *(int*)(slab.AddressOf(index) + _linkOffset);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private unsafe void WriteLink(Slab slab, int index, int next)
    {
        if (slab.Links is { } links)
        {
            links[index] = next;
        }
        else
        {
            *(int*)(slab.AddressOf(index) + _linkOffset) = next;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private unsafe bool IsMarked(nint address) => *(ulong*)(address + _markOffset) == FreeCookie.For(address);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private unsafe void Mark(nint address) => *(ulong*)(address + _markOffset) = FreeCookie.For(address);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private unsafe void Wipe(nint address) => *(ulong*)(address + _markOffset) = 0;

    // ----- allocation and free ----------------------------------------------------------------

    /// <summary>Allocates one object. Its contents are unspecified (constructed, in a constructor cache).</summary>
    /// <returns>The object's address; it stays valid until the object is freed.</returns>
    /// <exception cref="OutOfMemoryException">No slab could be allocated; the cache is unchanged.</exception>
    /// <exception cref="ObjectDisposedException">The allocator was disposed.</exception>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public nint Allocate() => AllocateObject().Address;

    /// <summary>Allocates one object, named by slab and index (what the pools use: no address lookup).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal SlabObject AllocateObject()
    {
        // Plain caches only: their mark is at the constant offset FreeCookie uses.
        if (!_derived && _objects.TryPop(out SlabObject o))
        {
            nint address = o.Address;
            if (!FreeCookie.IsMarked(address))
            {
                ReportWrittenAfterFree(o.Slab, address);
            }

            FreeCookie.Wipe(address);
            return o;
        }

        return AllocateObjectSlow(ObjectSize);
    }

    /// <summary>Allocates one object for a request of <paramref name="requested"/> bytes (red zones start there).</summary>
    internal SlabObject AllocateObject(int requested) => _derived ? AllocateObjectSlow(requested) : AllocateObject();

    [MethodImpl(MethodImplOptions.NoInlining)]
    private SlabObject AllocateObjectSlow(int requested)
    {
        _owner.ThrowIfDisposed();
        if (_derived)
        {
            return AllocateDerived(requested);
        }

        SlabObject o = _objects.PopSlow();
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
        if (_derived)
        {
            FreeDerived(o.Slab, o.Index, o.Address);
            return;
        }

        if (_clearOnFree)
        {
            ClearObject(o.Address);
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
        if (slab is null || !ReferenceEquals(slab.Cache, this))
        {
            ReportForeign(address, slab);
            return;
        }

        FreeFound(slab, address);
    }

    /// <summary>Frees an object whose slab the caller has just looked up (the pointer API): no second lookup.</summary>
    internal void FreeFound(Slab slab, nint address)
    {
        int index = slab.IndexOf(address);
        if (index < 0)
        {
            ReportForeign(address, slab);
            return;
        }

        if (!_derived && FreeCookie.IsMarked(address))
        {
            ReportDoubleFree(slab, address);
            return;
        }

        FreeObject(new SlabObject(slab, index));
    }

    private SlabObject AllocateDerived(int requested)
    {
        lock (_derivedLock)
        {
            _derivedAllocations++;
            SlabObject first = default;
            AllocateBatch<SlabObject, SlabObjectCodec>(new Span<SlabObject>(ref first));
            nint address = first.Address;
            if (!IsMarked(address))
            {
                ReportWrittenAfterFree(first.Slab, address);
            }

            Wipe(address);
            _behavior?.OnAllocate(this, first.Slab, first.Index, address, requested);
            return first;
        }
    }

    private void FreeDerived(Slab slab, int index, nint address)
    {
        lock (_derivedLock)
        {
            // Derived caches keep no magazines: an object is free exactly when it bears its mark and
            // (checked in full with ConsistencyChecks) when it is on its slab's free list.
            bool free = (Debug & SlabDebugFlags.ConsistencyChecks) != 0 ? IsOnFreeList(slab, index) || IsPendingRcu(address) : IsMarked(address);
            if (free)
            {
                ReportDoubleFree(slab, address);
                return;
            }

            _behavior?.OnFree(this, slab, index, address);

            // Cleared after the free hooks: a red zone inside the object (from the requested size
            // on) must still hold its pattern when it is checked.
            if (_clearOnFree)
            {
                ClearObject(address);
            }

            Mark(address);
            if (DeferReuseByRcu)
            {
                DeferReuse(slab, index, address);
            }
            else
            {
                FreeChain(slab, index, index, 1);
            }
        }
    }

    internal unsafe void ClearObject(nint address) => new Span<byte>((void*)address, ObjectSize).Clear();

    /// <summary>SlabPoolsOptions.ClearOnReturn is on.</summary>
    internal bool ClearOnFree => _clearOnFree;

    private bool IsOnFreeList(Slab slab, int index)
    {
        long state = Volatile.Read(ref slab.State);
        int i = SlabState.Head(state);
        for (int steps = SlabState.FreeCount(state); steps > 0 && (uint)i < (uint)slab.Capacity; steps--)
        {
            if (i == index)
            {
                return true;
            }

            i = slab.Capacity == 1 ? SlabState.None : ReadLink(slab, i);
        }

        return false;
    }

    /// <summary>A snapshot of the cache's counts.</summary>
    public SlabCacheInfo GetInfo() => BuildInfo(Owner.AliasesOf(this));

    /// <summary>Releases the cache's empty slabs now, after returning per-CPU slabs and idle threads' magazines.</summary>
    /// <returns>Bytes given back to the page allocator (or, in an RCU cache, queued for release after a grace period).</returns>
    public long Shrink() => ShrinkCore(flushMagazines: true, keepEmptySlabs: 0);

    /// <summary>
    /// Shrinks the cache; with <paramref name="defragment"/> and a <see cref="SlabCacheOptions.Move"/>
    /// callback, first moves live objects out of the sparsest slabs into fuller ones so that those
    /// slabs empty and can be released. Call it where no other thread uses the objects being moved
    /// (the callback is where their owner updates its references).
    /// </summary>
    /// <returns>Bytes given back to the page allocator.</returns>
    /// <exception cref="InvalidOperationException"><paramref name="defragment"/> is set but the cache has no move callback.</exception>
    public long Shrink(bool defragment)
    {
        if (defragment)
        {
            if (Move is null)
            {
                throw new InvalidOperationException($"Cache {Name} was created without a move callback (SlabCacheOptions.Move), so it cannot defragment.");
            }

            Defragment();
        }

        return Shrink();
    }

    // ----- error reports -------------------------------------------------------------------------

    [MethodImpl(MethodImplOptions.NoInlining)]
    internal void ReportDoubleFree(Slab slab, nint address) =>
        ReportDerived(SlabErrorKind.DoubleFree, slab, address, $"object 0x{address:x} freed while it is already free", "object ignored; the cache is unchanged");

    [MethodImpl(MethodImplOptions.NoInlining)]
    internal void ReportWrittenAfterFree(Slab slab, nint address) =>
        ReportDerived(SlabErrorKind.UseAfterFree, slab, address, $"free object 0x{address:x} was written after it was freed (its free mark is damaged)", "object handed out anyway; its contents are unspecified as always");

    /// <summary>
    /// Reports an error about an object, with what the derived behaviours know of it (tracking) and,
    /// unless <c>dumpMemory</c> is false, its first bytes. False is for an object whose memory may be
    /// gone (a native slab released); behaviours describe objects from their own records, never
    /// from the object's memory.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    internal void ReportDerived(SlabErrorKind kind, Slab slab, nint address, string problem, string fix, bool dumpMemory = true)
    {
        string? info = null;
        if (_behavior is not null)
        {
            var sb = new System.Text.StringBuilder();
            _behavior.Describe(address, sb);
            info = sb.ToString();
        }

        _errors.Report(kind, Name, problem, fix, address, address - slab.Base, dumpMemory ? Math.Min(ObjectSize, 64) : 0, info);
    }

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
