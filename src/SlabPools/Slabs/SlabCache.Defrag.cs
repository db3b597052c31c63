using System;
using System.Collections.Generic;
using System.Threading;
using SlabPools.Slabs;

namespace SlabPools;

// Defragmentation: shrink_slab with an object-move function (the seed's reclaim of sparse slabs).
public sealed partial class SlabCache
{
    /// <summary>
    /// Moves live objects out of the sparsest partial slabs into the fullest ones, through the
    /// cache's move callback, so that sparse slabs empty out. Returns the number of objects moved.
    /// </summary>
    /// <remarks>
    /// Every partial slab is taken off its list and frozen for the duration, so no allocation,
    /// flush or shrink touches them; frees from other threads may still arrive and are handled as
    /// usual. The bytes are copied before the callback runs; a refused move frees the copy.
    /// </remarks>
    internal int Defragment()
    {
        SlabMoveCallback move = Move!;
        FlushCpuAndThreadCaches();
        var slabs = new List<Slab>();
        foreach (NodePartialList list in _nodes)
        {
            lock (list.Lock)
            {
                while (list.Head is Slab slab)
                {
                    list.RemoveUnsynchronized(slab);
                    SetFrozen(slab, true);
                    slabs.Add(slab);
                }
            }
        }

        int moved = 0;
        try
        {
            slabs.Sort((a, b) => FreeOf(b).CompareTo(FreeOf(a))); // sparsest (most free) first
            int lo = 0, hi = slabs.Count - 1;
            while (lo < hi)
            {
                Slab source = slabs[lo];
                bool[] free = FreeSet(source);
                for (int i = 0; i < source.Capacity && lo < hi; i++)
                {
                    if (free[i])
                    {
                        continue;
                    }

                    int target;
                    while ((target = TakeOne(slabs[hi])) < 0)
                    {
                        if (--hi <= lo)
                        {
                            break;
                        }
                    }

                    if (target < 0)
                    {
                        break;
                    }

                    if (MoveOne(move, source, i, slabs[hi], target))
                    {
                        moved++;
                    }
                }

                lo++;
            }
        }
        finally
        {
            foreach (Slab slab in slabs)
            {
                Unfreeze(slab);
            }
        }

        return moved;
    }

    private static int FreeOf(Slab slab) => SlabState.FreeCount(Volatile.Read(ref slab.State));

    /// <summary>Which objects of a frozen slab are on its free list (taken whole, read, and put back).</summary>
    private bool[] FreeSet(Slab slab)
    {
        var free = new bool[slab.Capacity];
        while (true)
        {
            long old = Volatile.Read(ref slab.State);
            int count = SlabState.FreeCount(old);
            if (count == 0)
            {
                return free;
            }

            if (Interlocked.CompareExchange(ref slab.State, SlabState.With(old, SlabState.None, 0), old) != old)
            {
                continue;
            }

            int head = SlabState.Head(old);
            int index = head;
            for (int n = 0; n < count && (uint)index < (uint)slab.Capacity; n++)
            {
                free[index] = true;
                index = slab.Capacity == 1 ? SlabState.None : ReadLink(slab, index);
            }

            PutBackChain(slab, head, count);
            return free;
        }
    }

    /// <summary>Pops one free object from a frozen slab, or -1 when it has none.</summary>
    private int TakeOne(Slab slab)
    {
        while (true)
        {
            long old = Volatile.Read(ref slab.State);
            int count = SlabState.FreeCount(old);
            if (count == 0)
            {
                return -1;
            }

            int head = SlabState.Head(old);
            int next = slab.Capacity == 1 ? SlabState.None : ReadLink(slab, head);
            if (Interlocked.CompareExchange(ref slab.State, SlabState.With(old, next, count - 1), old) == old)
            {
                return head;
            }
        }
    }

    private unsafe bool MoveOne(SlabMoveCallback move, Slab source, int from, Slab target, int to)
    {
        nint src = source.AddressOf(from);
        nint dst = target.AddressOf(to);
        Wipe(dst);
        Buffer.MemoryCopy((void*)src, (void*)dst, ObjectSize, ObjectSize);
        bool accepted;
        try
        {
            accepted = move(src, dst);
        }
        catch
        {
            Mark(dst);
            FreeChain(target, to, to, 1);
            throw;
        }

        if (accepted)
        {
            Mark(src);
            FreeChain(source, from, from, 1);
            return true;
        }

        Mark(dst);
        FreeChain(target, to, to, 1);
        return false;
    }
}
