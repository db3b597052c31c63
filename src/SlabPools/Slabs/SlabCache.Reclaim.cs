using SlabPools.Slabs;
using System.Collections.Generic;
using System.Threading;

namespace SlabPools;

// Giving memory back (the seed's shrink_slab and flusher), and statistics.
public sealed partial class SlabCache
{
    /// <summary>
    /// Returns idle threads' magazines and every CPU's active slab to the slab layer. The slabs go
    /// back on their partial lists (or stay full), where <see cref="ShrinkCore(bool, int)"/> can release them.
    /// </summary>
    /// <returns>Objects moved out of magazines.</returns>
    internal int FlushCpuAndThreadCaches()
    {
        int moved = 0;
        IThreadCache[] fronts;
        lock (_registryLock)
        {
            fronts = _threadCaches.ToArray();
        }

        foreach (IThreadCache front in fronts)
        {
            moved += front.FlushRemote();
        }

        foreach (CpuSlot slot in _cpuSlots)
        {
            Slab? slab = Volatile.Read(ref slot.Active);
            if (slab is not null && Interlocked.CompareExchange(ref slot.Active, null, slab) == slab)
            {
                Unfreeze(slab);
            }
        }

        return moved;
    }

    /// <summary>Releases empty slabs from the partial lists, keeping <paramref name="keepEmptySlabs"/> per node.</summary>
    /// <returns>Bytes released.</returns>
    internal long ShrinkCore(bool flushMagazines, int keepEmptySlabs) => ShrinkCore(flushMagazines, keepEmptySlabs, agedOnly: false, out _);

    /// <summary>
    /// As <see cref="ShrinkCore(bool, int)"/>. <paramref name="agedOnly"/>: release only slabs found
    /// empty by the previous aged pass and not taken since (see <see cref="Slab.EmptyAtTakes"/>);
    /// <paramref name="managedBytes"/>: what of it only a GC gives back (see <see cref="IObjectCache"/>).
    /// </summary>
    internal long ShrinkCore(bool flushMagazines, int keepEmptySlabs, bool agedOnly, out long managedBytes)
    {
        if (flushMagazines)
        {
            FlushCpuAndThreadCaches();
        }

        var released = new List<Slab>();
        foreach (NodePartialList list in _nodes)
        {
            lock (list.Lock)
            {
                int kept = 0;
                for (Slab? slab = list.Head; slab is not null;)
                {
                    Slab? next = slab.Next;
                    long old = Volatile.Read(ref slab.State);
                    if (SlabState.FreeCount(old) == slab.Capacity && !SlabState.IsFrozen(old))
                    {
                        bool aged = slab.EmptyAtTakes == slab.Takes;
                        slab.EmptyAtTakes = slab.Takes;
                        if (kept < keepEmptySlabs || (agedOnly && !aged))
                        {
                            kept++;
                        }
                        else if (Interlocked.CompareExchange(ref slab.State, SlabState.WithFlag(old, SlabState.DeadBit, true), old) == old)
                        {
                            list.RemoveUnsynchronized(slab);
                            released.Add(slab);
                        }
                    }

                    slab = next;
                }
            }
        }

        long bytes = 0;
        managedBytes = 0;
        foreach (Slab slab in released)
        {
            bytes += (long)slab.Block.Length;
            managedBytes += slab.ManagedBytes;
            ReleaseSlab(slab);
        }

        if (TypesafeByRcu)
        {
            _owner.Rcu.Poll();
        }

        return bytes;
    }

    long IObjectCache.Activity => Activity;

    void IObjectCache.Close()
    {
        IThreadCache[] fronts;
        lock (_registryLock)
        {
            fronts = _threadCaches.ToArray();
        }

        foreach (IThreadCache front in fronts)
        {
            front.Close();
        }

        ShrinkCore(flushMagazines: true, keepEmptySlabs: 0);
    }

    /// <summary>After the allocator is disposed, a slab that empties is released at once (its last object came back).</summary>
    private void ReleaseIfEmptyAfterDispose(Slab slab)
    {
        long state = Volatile.Read(ref slab.State);
        if (SlabState.FreeCount(state) != slab.Capacity || SlabState.IsFrozen(state))
        {
            return;
        }

        NodePartialList list = _nodes[slab.Node];
        bool release = false;
        lock (list.Lock)
        {
            state = Volatile.Read(ref slab.State);
            if (slab.OnPartial && SlabState.FreeCount(state) == slab.Capacity && !SlabState.IsFrozen(state)
                && Interlocked.CompareExchange(ref slab.State, SlabState.WithFlag(state, SlabState.DeadBit, true), state) == state)
            {
                list.RemoveUnsynchronized(slab);
                release = true;
            }
        }

        if (release)
        {
            ReleaseSlab(slab);
        }
    }

    Reclaim.CacheFlusher? IObjectCache.Flusher { get => Flusher; set => Flusher = value; }

    long IObjectCache.BytesReserved => BytesReserved;

    int IObjectCache.FlushCpuAndThreadCaches() => FlushCpuAndThreadCaches();

    long IObjectCache.ShrinkCore(bool flushMagazines, int keepEmptySlabs, bool agedOnly, out long managedBytes) => ShrinkCore(flushMagazines, keepEmptySlabs, agedOnly, out managedBytes);

    /// <summary>Slabs on one node's partial list now (for tests and diagnostics).</summary>
    internal int PartialSlabCount(int node) => Volatile.Read(ref _nodes[node].Count);

    internal SlabCacheInfo BuildInfo(IReadOnlyList<string> aliases)
    {
        long slabs, freeOnSlabs = 0;
        IThreadCache[] fronts;
        lock (_registryLock)
        {
            slabs = _slabCount;
            for (int i = 0; i < _slabCount; i++)
            {
                freeOnSlabs += SlabState.FreeCount(Volatile.Read(ref _slabs[i].State));
            }

            fronts = _threadCaches.ToArray();
        }

        long cached = 0, hits = 0, misses = Volatile.Read(ref _derivedAllocations);
        foreach (IThreadCache front in fronts)
        {
            cached += front.CachedObjects;
            (long h, long m) = front.Counters;
            hits += h;
            misses += m;
        }

        long partial = 0;
        foreach (NodePartialList list in _nodes)
        {
            partial += Volatile.Read(ref list.Count);
        }

        long total = slabs * ObjectsPerSlab;
        return new SlabCacheInfo
        {
            Name = Name,
            ObjectSize = ObjectSize,
            ObjectsPerSlab = ObjectsPerSlab,
            Slabs = slabs,
            TotalObjects = total,
            ActiveObjects = System.Math.Max(0, total - freeOnSlabs - cached),
            PartialSlabs = partial,
            BytesReserved = BytesReserved,
            Memory = _pages.IsNative ? "native" : "pinned",
            Aliases = aliases,
            FastAllocations = hits,
            SlowAllocations = misses,
            SlabsAllocated = Volatile.Read(ref _slabsAllocated),
            SlabsFreed = Volatile.Read(ref _slabsFreed),
        };
    }
}
