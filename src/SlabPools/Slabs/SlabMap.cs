using System;
using System.Runtime.CompilerServices;
using System.Threading;

namespace SlabPools.Slabs;

/// <summary>
/// Finds the slab that holds an address, for frees that come as bare pointers. The kernel reads this
/// from <c>struct page</c>; we keep a hash from 16 KiB granules of the address space to the slabs
/// overlapping them.
/// </summary>
/// <remarks>
/// <para>Every slab spans at least one granule (<see cref="MinSlabBytes"/>), so at most two slabs
/// overlap a granule (one ending in it and one starting in it): an entry has two slab slots.</para>
/// <para>Readers take no lock: they read the current table once and probe it. Writers hold
/// <c>_lock</c>, write an entry's key before its slabs, and publish a larger table by replacing the
/// reference. A reader racing with a registration cannot be looking for that slab (no object of it
/// has been handed out yet); a reader racing with a removal may still find the slab, whose state
/// then says it is dead.</para>
/// </remarks>
internal sealed class SlabMap
{
    internal const int GranuleShift = 14;
    internal const int MinSlabBytes = 1 << GranuleShift;

    // Protects writes to _table (its arrays and the reference itself) and _used.
    private readonly Lock _lock = new();
    private Table _table = new(64);
    private int _used;

    private sealed class Table
    {
        internal readonly long[] Keys;   // granule + 1; 0 = never used
        internal readonly Slab?[] First;
        internal readonly Slab?[] Second;

        internal Table(int capacity)
        {
            Keys = new long[capacity];
            First = new Slab?[capacity];
            Second = new Slab?[capacity];
        }

        internal int Mask => Keys.Length - 1;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int Hash(long key) => (int)((ulong)(key * unchecked((long)0x9E3779B97F4A7C15)) >> 40);

    /// <summary>The slab whose objects cover <paramref name="address"/>, or null.</summary>
    internal Slab? Find(nint address)
    {
        Table t = Volatile.Read(ref _table);
        long key = ((long)address >> GranuleShift) + 1;
        int mask = t.Mask;
        for (int i = Hash(key) & mask; ; i = (i + 1) & mask)
        {
            long k = Volatile.Read(ref t.Keys[i]);
            if (k == 0)
            {
                return null;
            }

            if (k == key)
            {
                Slab? s = Volatile.Read(ref t.First[i]);
                if (s is not null && s.Contains(address))
                {
                    return s;
                }

                s = Volatile.Read(ref t.Second[i]);
                return s is not null && s.Contains(address) ? s : null;
            }
        }
    }

    internal void Add(Slab slab)
    {
        lock (_lock)
        {
            long first = (long)slab.Base >> GranuleShift;
            long last = ((long)slab.Base + slab.Span - 1) >> GranuleShift;
            if ((_used + (last - first + 1)) * 2 > _table.Keys.Length)
            {
                Grow((int)(last - first + 1));
            }

            for (long g = first; g <= last; g++)
            {
                int i = FindOrClaimUnsynchronized(_table, g + 1);
                if (_table.First[i] is null)
                {
                    Volatile.Write(ref _table.First[i], slab);
                }
                else
                {
                    Volatile.Write(ref _table.Second[i], slab);
                }
            }
        }
    }

    internal void Remove(Slab slab)
    {
        lock (_lock)
        {
            long first = (long)slab.Base >> GranuleShift;
            long last = ((long)slab.Base + slab.Span - 1) >> GranuleShift;
            Table t = _table;
            for (long g = first; g <= last; g++)
            {
                int i = FindOrClaimUnsynchronized(t, g + 1);
                if (ReferenceEquals(t.First[i], slab))
                {
                    Volatile.Write(ref t.First[i], null);
                }
                else if (ReferenceEquals(t.Second[i], slab))
                {
                    Volatile.Write(ref t.Second[i], null);
                }
            }
        }
    }

    // Caller holds _lock. Keys are never removed (an emptied entry keeps its key and is dropped at
    // the next growth), so a probe never stops early at a hole that used to be an entry.
    private int FindOrClaimUnsynchronized(Table t, long key)
    {
        int mask = t.Mask;
        for (int i = Hash(key) & mask; ; i = (i + 1) & mask)
        {
            long k = t.Keys[i];
            if (k == key)
            {
                return i;
            }

            if (k == 0)
            {
                Volatile.Write(ref t.Keys[i], key);
                if (ReferenceEquals(t, _table))
                {
                    _used++;
                }

                return i;
            }
        }
    }

    // Caller holds _lock.
    private void Grow(int extra)
    {
        Table old = _table;
        int live = 0;
        for (int i = 0; i < old.Keys.Length; i++)
        {
            if (old.First[i] is not null || old.Second[i] is not null)
            {
                live++;
            }
        }

        int capacity = 64;
        while (capacity < (live + extra) * 4)
        {
            capacity *= 2;
        }

        var fresh = new Table(capacity);
        int used = 0;
        for (int i = 0; i < old.Keys.Length; i++)
        {
            if (old.First[i] is null && old.Second[i] is null)
            {
                continue;
            }

            int mask = fresh.Mask;
            int j = Hash(old.Keys[i]) & mask;
            while (fresh.Keys[j] != 0)
            {
                j = (j + 1) & mask;
            }

            fresh.Keys[j] = old.Keys[i];
            fresh.First[j] = old.First[i] ?? old.Second[i];
            fresh.Second[j] = old.First[i] is null ? null : old.Second[i];
            used++;
        }

        _used = used;
        Volatile.Write(ref _table, fresh);
    }
}
