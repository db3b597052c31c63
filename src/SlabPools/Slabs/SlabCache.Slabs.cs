using SlabPools.Slabs;
using System;
using System.Collections.Generic;
using System.Runtime.CompilerServices;
using System.Threading;
using SlabPools.Pages;

namespace SlabPools;

// Tiers 1 to 3 of the cache: the per-CPU active slab, the per-node partial lists and new slabs.
public sealed partial class SlabCache
{
    private readonly CpuSlot[] _cpuSlots;
    private readonly NodePartialList[] _nodes;

    // Protects _slabs, _slabCount and Slab.RegistryIndex: the list of every live slab of the cache,
    // touched only when a slab is made or released and by statistics.
    private readonly Lock _registryLock = new();
    private Slab[] _slabs = new Slab[16];
    private int _slabCount;
    private readonly List<IThreadCache> _threadCaches = new();

    private long _bytesReserved;
    private long _slabsAllocated;
    private long _slabsFreed;
    private long _activity;

    /// <summary>
    /// Counts a slow-path operation and arms the flusher. The count only tells the flusher whether
    /// anything happened since its last tick, so a plain (racy) increment will do: concurrent
    /// increments may lose counts, never leave the value unchanged.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal void NoteActivity()
    {
        Volatile.Write(ref _activity, _activity + 1);
        Flusher?.NoteActivity();
    }

    /// <summary>
    /// The per-thread tiers of the memory pool that made this cache, for its owners' slow paths: a
    /// <c>ThreadCache</c> of owners and the pool's <c>HotTier</c> (null for other caches, for derived
    /// caches, and for the hot tier of a clear-on-return pool). Set once, before the first slab.
    /// </summary>
    internal object? PoolMagazines;

    /// <inheritdoc cref="PoolMagazines"/>
    internal object? PoolHotTier;

    /// <summary>The flusher, attached by the allocator (null until then).</summary>
    internal Reclaim.CacheFlusher? Flusher;

    /// <summary>Counts calls into the slab layer; the flusher disarms when it stops moving.</summary>
    internal long Activity => Volatile.Read(ref _activity);

    internal long BytesReserved => Volatile.Read(ref _bytesReserved);

    internal void RegisterThreadCache(IThreadCache cache)
    {
        lock (_registryLock)
        {
            _threadCaches.Add(cache);
        }
    }

    /// <summary>The tier-1 backend of a thread cache whose items map onto slots through <typeparamref name="TCodec"/>.</summary>
    internal sealed class Backend<T, TCodec>(SlabCache cache) : IMagazineBackend<T>
        where TCodec : ISlotCodec<T>
    {
        public int Refill(Span<T> destination) => cache.AllocateBatch<T, TCodec>(destination);

        public void Drain(ReadOnlySpan<T> objects) => cache.FreeBatch<T, TCodec>(objects);

        public void NoteActivity() => cache.NoteActivity();
    }

    /// <summary>
    /// Takes at least one and at most <c>destination.Length</c> free objects, from the current CPU's
    /// active slab (replacing it as needed). Objects keep their free mark.
    /// </summary>
    /// <exception cref="OutOfMemoryException">A new slab was needed and could not be had; nothing changed.</exception>
    internal int AllocateBatch<T, TCodec>(Span<T> destination)
        where TCodec : ISlotCodec<T>
    {
        NoteActivity();

        // The processor is read once: a thread that moves to another processor mid-call keeps
        // using the slot it started on (any slot is correct, the per-CPU split only spreads
        // contention), so a slab it installs there is the one it takes from, and one call never
        // makes two new slabs.
        int cpu = _topology.CurrentProcessor;
        CpuSlot slot = _cpuSlots[cpu];
        while (true)
        {
            Slab? slab = Volatile.Read(ref slot.Active);
            if (slab is null)
            {
                Slab fresh = AcquireSlab(_topology.GetNode(cpu));
                if (Interlocked.CompareExchange(ref slot.Active, fresh, null) is not null)
                {
                    // Another thread on this CPU installed one first: give ours back.
                    Unfreeze(fresh);
                }

                continue;
            }

            long old = Volatile.Read(ref slab.State);
            int free = SlabState.FreeCount(old);
            if (free == 0 || !SlabState.IsFrozen(old))
            {
                // Exhausted: whoever swaps it out of the slot unfreezes it.
                if (Interlocked.CompareExchange(ref slot.Active, null, slab) == slab)
                {
                    Unfreeze(slab);
                }

                continue;
            }

            if (Interlocked.CompareExchange(ref slab.State, SlabState.With(old, SlabState.None, 0), old) != old)
            {
                continue;
            }

            // The whole free list is ours now: nobody else can reach these objects.
            return TakeFromChain<T, TCodec>(slab, SlabState.Head(old), free, destination);
        }
    }

    private int TakeFromChain<T, TCodec>(Slab slab, int head, int count, Span<T> destination)
        where TCodec : ISlotCodec<T>
    {
        int n = Math.Min(count, destination.Length);
        int index = head;
        int taken = 0;
        bool single = slab.Capacity == 1;
        while (taken < n)
        {
            // Links in the objects: one written after it was freed cannot be trusted, so its mark is
            // checked first. Side links cannot be written by a caller: this loop reads no object
            // (each one's mark is checked when it is handed out, as for a magazine's).
            if ((uint)index >= (uint)slab.Capacity || (slab.Links is null && !IsMarked(slab.AddressOf(index))))
            {
                // A free object was written after it was freed: its link cannot be trusted. Keep what
                // we have; the rest of the chain is isolated (leaked) so that no object is handed out twice.
                ReportBrokenChain(slab, index);
                if (taken == 0)
                {
                    // Nothing usable from this slab: retry on another one.
                    return AllocateBatch<T, TCodec>(destination);
                }

                return taken;
            }

            if (slab.Links is not null)
            {
                // The object's first line, where its rent reads the free mark and its user starts
                // writing, starts loading now: the batch's misses overlap instead of coming one per
                // rent (a link walk through the objects used to load them, one after the other).
                CacheLine.Prefetch(slab.AddressOf(index));
            }

            destination[taken++] = TCodec.Encode(slab, index);
            index = single ? SlabState.None : ReadLink(slab, index);
        }

        int rest = count - n;
        if (rest > 0)
        {
            PutBackChain(slab, index, rest);
        }

        return taken;
    }

    // Puts back the unused suffix of a chain taken whole from the slab. Its last link is None.
    private void PutBackChain(Slab slab, int head, int count)
    {
        int tail = -1;
        while (true)
        {
            long old = Volatile.Read(ref slab.State);
            int oldHead = SlabState.Head(old);
            if (oldHead != SlabState.None)
            {
                // Frees arrived meanwhile: link our tail to them (found once, by walking our chain).
                if (tail < 0)
                {
                    tail = head;
                    for (int i = 1; i < count; i++)
                    {
                        tail = ReadLink(slab, tail);
                    }
                }

                WriteLink(slab, tail, oldHead);
            }
            else if (tail >= 0)
            {
                WriteLink(slab, tail, SlabState.None);
            }

            long next = SlabState.With(old, head, SlabState.FreeCount(old) + count);
            if (Interlocked.CompareExchange(ref slab.State, next, old) == old)
            {
                if (!SlabState.IsFrozen(old) && SlabState.FreeCount(old) == 0)
                {
                    AddPartial(slab);
                }

                return;
            }
        }
    }

    /// <summary>Gives back free objects (already marked free), pushing each run of one slab as one chain.</summary>
    internal void FreeBatch<T, TCodec>(ReadOnlySpan<T> objects)
        where TCodec : ISlotCodec<T>
    {
        NoteActivity();
        int i = 0;
        while (i < objects.Length)
        {
            Slab slab = TCodec.Decode(objects[i], out int head);
            int tail = head;
            int count = 1;
            i++;
            if (slab.Capacity > 1)
            {
                while (i < objects.Length)
                {
                    Slab next = TCodec.Decode(objects[i], out int index);
                    if (!ReferenceEquals(next, slab))
                    {
                        break;
                    }

                    WriteLink(slab, index, head);
                    head = index;
                    count++;
                    i++;
                }
            }

            FreeChain(slab, head, tail, count);
        }
    }

    /// <summary>Pushes a chain <paramref name="head"/> … <paramref name="tail"/> of <paramref name="count"/> free objects onto its slab.</summary>
    internal void FreeChain(Slab slab, int head, int tail, int count)
    {
        while (true)
        {
            long old = Volatile.Read(ref slab.State);
            int free = SlabState.FreeCount(old);
            if (SlabState.IsDead(old) || free + count > slab.Capacity)
            {
                // Only a double free can push onto a released or already complete slab.
                ReportDoubleFree(slab, slab.AddressOf(head));
                return;
            }

            if (slab.Capacity > 1)
            {
                WriteLink(slab, tail, SlabState.Head(old));
            }

            if (Interlocked.CompareExchange(ref slab.State, SlabState.With(old, head, free + count), old) == old)
            {
                if (!SlabState.IsFrozen(old) && free == 0)
                {
                    // full -> partial: this free is the one thread that saw the transition.
                    AddPartial(slab);
                }

                if (free + count == slab.Capacity && _owner.IsDisposed)
                {
                    ReleaseIfEmptyAfterDispose(slab);
                }

                return;
            }
        }
    }

    /// <summary>A frozen slab for <paramref name="node"/>: from its partial list, another node's, or new.</summary>
    private Slab AcquireSlab(int node)
    {
        Slab? slab = TakePartial(node);
        for (int other = 0; slab is null && other < _nodes.Length; other++)
        {
            if (other != node)
            {
                slab = TakePartial(other);
            }
        }

        return slab ?? NewSlab(node);
    }

    private Slab? TakePartial(int node)
    {
        NodePartialList list = _nodes[node];
        if (list.Head is null)
        {
            // Racy peek: an empty list is common on a quiet node and not worth the lock.
            return null;
        }

        lock (list.Lock)
        {
            Slab? slab = list.Head;
            if (slab is null)
            {
                return null;
            }

            list.RemoveUnsynchronized(slab);
            slab.Takes++;
            SetFrozen(slab, true);
            return slab;
        }
    }

    private static long SetFrozen(Slab slab, bool frozen)
    {
        while (true)
        {
            long old = Volatile.Read(ref slab.State);
            long next = SlabState.WithFlag(old, SlabState.FrozenBit, frozen);
            if (Interlocked.CompareExchange(ref slab.State, next, old) == old)
            {
                return next;
            }
        }
    }

    /// <summary>active -> partial (or full). Called by the one thread that took the slab out of a CPU slot.</summary>
    private void Unfreeze(Slab slab)
    {
        long state = SetFrozen(slab, false);
        if (SlabState.FreeCount(state) > 0)
        {
            AddPartial(slab);
        }
    }

    private void AddPartial(Slab slab)
    {
        NodePartialList list = _nodes[slab.Node];
        lock (list.Lock)
        {
            list.AddUnsynchronized(slab);
        }
    }

    private Slab NewSlab(int node)
    {
        SlabGeometry g = Geometry;
        PageBlock block = _pages.Allocate((nuint)g.SlabBytes, node); // may throw OutOfMemoryException: nothing changed yet

        // The managed bytes made with the slab (its slot objects, side links and the Slab itself) are
        // measured here, on the thread that makes them (a cheap counter read, on this slow path
        // only), so that the flusher can tell the GC's share of a release.
        long allocatedBefore = GC.GetAllocatedBytesForCurrentThread();
        object?[]? slots = _slotConstructor is null ? null : new object?[g.ObjectsPerSlab];
        int[]? links = _sideLinks ? new int[g.ObjectsPerSlab] : null;
        var slab = new Slab(this, block, g.ObjectsPerSlab, g.Stride, node, slots, links);
        try
        {
            // Link the free list (through the objects, or in the side links) and mark each one free.
            for (int i = 0; i < g.ObjectsPerSlab; i++)
            {
                WriteLink(slab, i, i + 1 < g.ObjectsPerSlab ? i + 1 : SlabState.None);
                Mark(slab.AddressOf(i));
                if (slots is not null)
                {
                    slots[i] = _slotConstructor!(slab, i);
                }
            }

            slab.ManagedBytes = (_pages.IsNative ? 0 : (long)block.Length)
                + GC.GetAllocatedBytesForCurrentThread() - allocatedBefore;

            _behavior?.OnSlabCreated(this, slab);
        }
        catch
        {
            _pages.Free(block);
            throw;
        }

        slab.State = SlabState.Initial(0, g.ObjectsPerSlab, frozen: true);
        lock (_registryLock)
        {
            if (_slabCount == _slabs.Length)
            {
                Array.Resize(ref _slabs, _slabs.Length * 2);
            }

            slab.RegistryIndex = _slabCount;
            _slabs[_slabCount++] = slab;
        }

        _map.Add(slab);
        Interlocked.Add(ref _bytesReserved, (long)block.Length);
        Interlocked.Increment(ref _slabsAllocated);
        return slab;
    }

    /// <summary>Releases a dead slab: now, or after a grace period in an RCU cache (its bytes stay counted until then).</summary>
    private void ReleaseSlab(Slab slab)
    {
        if (TypesafeByRcu)
        {
            DeferRelease(slab);
            return;
        }

        ReleaseSlabNow(slab);
    }

    private void DeferRelease(Slab slab) => _owner.Rcu.Defer(() => ReleaseSlabNow(slab));

    private void ReleaseSlabNow(Slab slab)
    {
        _behavior?.OnSlabReleasing(this, slab);
        _map.Remove(slab);
        lock (_registryLock)
        {
            int i = slab.RegistryIndex;
            Slab last = _slabs[--_slabCount];
            _slabs[i] = last;
            last.RegistryIndex = i;
            _slabs[_slabCount] = null!;
        }

        Interlocked.Add(ref _bytesReserved, -(long)slab.Block.Length);
        Interlocked.Increment(ref _slabsFreed);
        _pages.Free(slab.Block);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void ReportBrokenChain(Slab slab, int index)
    {
        bool inRange = (uint)index < (uint)slab.Capacity;
        nint address = inRange ? slab.AddressOf(index) : 0;
        Errors.Report(
            SlabPools.SlabErrorKind.UseAfterFree,
            Name,
            inRange ? $"free object 0x{address:x} was written after it was freed (free list damaged)" : $"free-list link {index} is out of range (a free object was written after it was freed)",
            "the rest of this slab's free list is isolated; no object is handed out twice",
            address,
            inRange ? address - slab.Base : -1,
            inRange ? ObjectSize : 0);
    }
}
