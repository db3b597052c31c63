using System;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Threading;
using SlabPools.Derived;
using SlabPools.Diagnostics;

namespace SlabPools.Slabs;

/// <summary>
/// A cache of single-object slabs whose object is a managed <see cref="T:byte[]"/> (what
/// <see cref="Pools.SlabArrayPool"/> hands out). A slab holding a single object needs no free list:
/// it is either handed out, cached in a thread's magazine, or on its node's stack of free arrays.
/// </summary>
/// <remarks>
/// <para>Tiers: per-thread magazines (<see cref="ThreadCache{T}"/>, no atomics), then one stack of
/// free arrays per memory node under that node's lock, then the GC heap for new arrays.</para>
/// <para>Free arrays bear a mark in bytes 8..15 (a per-process secret), wiped when the array is
/// handed out: a returned array that bears it is a double return, and a free array that lost it
/// was written after it was returned. Same odds as <see cref="FreeCookie"/>: user data equal to a
/// secret 64-bit value.</para>
/// <para>Invariant: <c>Slabs == active + Σ node stack counts + Σ magazine counts</c>, where
/// <c>Slabs</c> counts arrays made and not yet dropped.</para>
/// </remarks>
internal sealed class ArraySlabCache : IObjectCache, IMagazineBackend<byte[]>, IHotSink<byte[]>
{
    private const int NewArraysPerRefill = 4;

    /// <summary>The free mark every free array bears at bytes 8..15 (see <see cref="MarkOf"/>).</summary>
    internal static readonly ulong s_mark = FreeCookie.NewSecret();

    private readonly NodeTopology _topology;
    private readonly ErrorReporter _errors;
    private readonly NodeStack[] _nodes;
    private readonly ThreadCache<byte[]> _magazines;

    // Debugging (null when off: the fast path tests this one field). Arrays have no room behind
    // them, so there is no red zone; poisoning, tracking and ownership checks apply.
    private readonly ArrayDebug? _debug;
    private readonly bool _clearOnReturn;

    private long _slabs;
    private long _slabsAllocated;
    private long _slabsFreed;
    private long _activity;

    /// <summary>
    /// Counts a slow-path operation and arms the flusher. The count only tells the flusher whether
    /// anything happened since its last tick, so a plain (racy) increment will do: concurrent
    /// increments may lose counts, never leave the value unchanged.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void NoteActivity()
    {
        Volatile.Write(ref _activity, _activity + 1);
        Flusher?.NoteActivity();
    }

    internal ArraySlabCache(SlabAllocator owner, string name, int size)
    {
        Name = name;
        Size = size;
        _topology = owner.Topology;
        _errors = owner.Reporter;
        _nodes = new NodeStack[_topology.NodeCount];
        for (int i = 0; i < _nodes.Length; i++)
        {
            _nodes[i] = new NodeStack();
        }

        _magazines = new ThreadCache<byte[]>(SlabCache.MagazineCapacityFor(size), this);
        _clearOnReturn = owner.Options.ClearOnReturn;
        if ((owner.Options.Debug & (SlabDebugFlags.Poison | SlabDebugFlags.Track | SlabDebugFlags.ConsistencyChecks)) != 0)
        {
            _debug = new ArrayDebug(this, owner.Options.Debug);
        }
    }

    public string Name { get; }

    /// <summary>
    /// The id of this cache's magazines when the pool may serve it inline (no debugging, no
    /// clear-on-return: rent is pop + mark check, return is mark check + push), else -1.
    /// </summary>
    internal int InlineId => _debug is null && !_clearOnReturn ? _magazines.Id : -1;

    /// <summary>The pool's hot slots of this class (null when the pool has none): flushed, closed and counted with the magazines.</summary>
    internal IThreadCache? Hot { get; set; }

    /// <summary>Slow half of an inline return whose push failed: the array is checked and marked already.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    internal void PushSlow(byte[] array) => _magazines.PushSlow(array);

    internal int Size { get; }

    public long Activity => Volatile.Read(ref _activity);

    public Reclaim.CacheFlusher? Flusher { get; set; }

    public long BytesReserved => Math.Max(0, Volatile.Read(ref _slabs)) * Size;

    /// <summary>Raised (with the byte count) when arrays are made or dropped, for the Kestrel-compatible metrics.</summary>
    internal Action<long>? SlabsAllocatedBytes { get; set; }

    private sealed class NodeStack
    {
        /// <summary>Protects <see cref="Items"/>, <see cref="Count"/> and <see cref="LowWater"/>.</summary>
        internal readonly Lock Lock = new();
        internal byte[][] Items = new byte[16][];
        internal int Count;

        /// <summary>
        /// The lowest <see cref="Count"/> since the last shrink: the arrays at the bottom of the stack
        /// that nobody took in the meantime (the depot working-set estimate of Bonwick and Adams).
        /// </summary>
        internal int LowWater;
    }

    /// <summary>Bytes 8..15 of <paramref name="array"/> (class sizes are at least 16 bytes).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static ref ulong MarkOf(byte[] array) => ref Unsafe.As<byte, ulong>(ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(array), 8));

    /// <summary>Hands out an array of <see cref="Size"/> bytes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal byte[] Rent()
    {
        if (!_magazines.TryPop(out byte[] array))
        {
            array = _magazines.PopSlow();
        }

        ref ulong mark = ref MarkOf(array);
        if (mark != s_mark)
        {
            ReportWrittenAfterReturn(array, null);
        }

        _debug?.OnRent(array);
        mark = 0;
        return array;
    }

    /// <summary>Takes an array of exactly <see cref="Size"/> bytes back.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal void Return(byte[] array, bool clear)
    {
        ref ulong mark = ref MarkOf(array);
        if (mark == s_mark)
        {
            ReportDoubleReturn(array);
            return;
        }

        if (_debug is not null && !_debug.OnReturn(array))
        {
            return;
        }

        if (clear | _clearOnReturn)
        {
            Array.Clear(array);
        }

        _debug?.Poison(array);
        mark = s_mark;
        if (!_magazines.TryPush(array))
        {
            _magazines.PushSlow(array);
        }
    }

    /// <inheritdoc/>
    public int Refill(Span<byte[]> destination)
    {
        NoteActivity();
        int node = _nodes.Length == 1 ? 0 : _topology.GetNode(_topology.CurrentProcessor);
        int got = TakeFrom(_nodes[node], destination);
        for (int other = 0; got == 0 && other < _nodes.Length; other++)
        {
            got = TakeFrom(_nodes[other], destination);
        }

        if (got > 0)
        {
            return got;
        }

        int fresh = Math.Min(destination.Length, NewArraysPerRefill);
        for (int i = 0; i < fresh; i++)
        {
            byte[] array = GC.AllocateUninitializedArray<byte>(Size);
            _debug?.OnCreated(array);
            MarkOf(array) = s_mark;
            destination[i] = array;
        }

        Interlocked.Add(ref _slabs, fresh);
        Interlocked.Add(ref _slabsAllocated, fresh);
        SlabsAllocatedBytes?.Invoke((long)fresh * Size);
        return fresh;
    }

    private static int TakeFrom(NodeStack stack, Span<byte[]> destination)
    {
        if (Volatile.Read(ref stack.Count) == 0)
        {
            return 0;
        }

        lock (stack.Lock)
        {
            int n = Math.Min(stack.Count, destination.Length);
            int start = stack.Count - n;
            stack.Items.AsSpan(start, n).CopyTo(destination);
            stack.Items.AsSpan(start, n).Clear();
            stack.Count = start;
            stack.LowWater = Math.Min(stack.LowWater, start);
            return n;
        }
    }

    /// <inheritdoc/>
    public void Drain(ReadOnlySpan<byte[]> objects)
    {
        NoteActivity();
        if (_closed)
        {
            // The allocator was disposed: returned arrays are dropped for the GC.
            Interlocked.Add(ref _slabs, -objects.Length);
            Interlocked.Add(ref _slabsFreed, objects.Length);
            return;
        }

        int node = _nodes.Length == 1 ? 0 : _topology.GetNode(_topology.CurrentProcessor);
        NodeStack stack = _nodes[node];
        lock (stack.Lock)
        {
            if (stack.Count + objects.Length > stack.Items.Length)
            {
                Array.Resize(ref stack.Items, Math.Max(stack.Items.Length * 2, stack.Count + objects.Length));
            }

            objects.CopyTo(stack.Items.AsSpan(stack.Count));
            stack.Count += objects.Length;
        }
    }

    public int FlushCpuAndThreadCaches() => (Hot?.FlushRemote() ?? 0) + _magazines.FlushRemote();

    private volatile bool _closed;

    public void Close()
    {
        _closed = true;
        Hot?.Close();
        _magazines.Close();
        ShrinkCore(flushMagazines: false, keepEmptySlabs: 0, agedOnly: false, out _);
    }

    public long ShrinkCore(bool flushMagazines, int keepEmptySlabs, bool agedOnly, out long managedBytes)
    {
        if (flushMagazines)
        {
            FlushCpuAndThreadCaches();
        }

        long dropped = 0;
        foreach (NodeStack stack in _nodes)
        {
            lock (stack.Lock)
            {
                // Aged: only the bottom LowWater arrays stayed untouched since the last shrink (what
                // the magazine flush just pushed lies above them).
                int candidates = agedOnly ? Math.Min(stack.LowWater, stack.Count) : stack.Count;
                int drop = Math.Max(0, candidates - keepEmptySlabs);
                int keep = stack.Count - drop;

                // Keep the most recently returned arrays (the top of the stack, likely in cache).
                Array.Copy(stack.Items, drop, stack.Items, 0, keep);
                stack.Items.AsSpan(keep, drop).Clear();
                stack.Count = keep;
                stack.LowWater = keep;
                dropped += drop;
                if (stack.Items.Length > 64 && stack.Count < stack.Items.Length / 4)
                {
                    Array.Resize(ref stack.Items, Math.Max(16, stack.Count * 2));
                }
            }
        }

        Interlocked.Add(ref _slabs, -dropped);
        Interlocked.Add(ref _slabsFreed, dropped);
        managedBytes = dropped * Size; // arrays: all of it is the GC's
        return managedBytes;
    }

    public SlabCacheInfo GetInfo()
    {
        long free = 0;
        foreach (NodeStack stack in _nodes)
        {
            free += Volatile.Read(ref stack.Count);
        }

        // Arrays of a class size that the pool did not make are adopted when returned, uncounted:
        // the count can lag behind the truth, never run below zero.
        long slabs = Math.Max(0, Volatile.Read(ref _slabs));
        (long hits, long misses) = _magazines.Counters;
        long cached = _magazines.CachedObjects;
        if (Hot is { } hot)
        {
            hits += hot.Counters.Hits;
            cached += hot.CachedObjects;
        }

        return new SlabCacheInfo
        {
            Name = Name,
            ObjectSize = Size,
            ObjectsPerSlab = 1,
            Slabs = slabs,
            TotalObjects = slabs,
            ActiveObjects = Math.Max(0, slabs - free - cached),
            PartialSlabs = free, // free single-object slabs wait on the node stacks
            BytesReserved = BytesReserved,
            Memory = "managed",
            FastAllocations = hits,
            SlowAllocations = misses,
            SlabsAllocated = Volatile.Read(ref _slabsAllocated),
            SlabsFreed = Volatile.Read(ref _slabsFreed),
        };
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void ReportDoubleReturn(byte[] array) =>
        _errors.Report(SlabErrorKind.DoubleFree, Name, $"array of {Size} bytes returned while it is already in the pool", "array ignored; the pool is unchanged", info: _debug?.Describe(array));

    [MethodImpl(MethodImplOptions.NoInlining)]
    internal void ReportWrittenAfterReturn(byte[] array, string? detail) =>
        _errors.Report(SlabErrorKind.UseAfterFree, Name, detail ?? $"pooled array of {Size} bytes was written after it was returned (its free mark is damaged)", "array handed out anyway; its contents are unspecified as always", info: _debug?.Describe(array));

    [MethodImpl(MethodImplOptions.NoInlining)]
    internal void ReportForeign(byte[] array) =>
        _errors.Report(SlabErrorKind.ForeignObject, Name, $"array of {Size} bytes returned that this pool did not rent out", "array ignored; the pool is unchanged", info: _debug?.Describe(array));

    /// <summary>Arrays handed out and not returned, with their allocation stacks (Track only).</summary>
    internal System.Collections.Generic.List<(string Stack, DateTime Time)> Outstanding() => _debug?.Outstanding() ?? [];
}
