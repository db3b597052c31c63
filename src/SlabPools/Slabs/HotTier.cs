using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Threading;

namespace SlabPools.Slabs;

/// <summary>
/// Where a hot tier sends the free objects it takes from threads (the class's backend, the tier
/// below the magazines).
/// </summary>
internal interface IHotSink<T>
{
    /// <summary>Takes back free objects of this sink's class.</summary>
    void Drain(ReadOnlySpan<T> objects);
}

/// <summary>One thread's hot objects of one pool: one free object per size class.</summary>
/// <remarks>
/// Touched by its owner thread on the fast path with plain reads and writes between
/// <c>Busy = 1</c> and <c>Busy = 0</c>, and by a flusher holding <c>SyncRoot</c> after the
/// handshake described on <see cref="MagazineBase"/> (the same asymmetric Dekker protocol).
/// </remarks>
internal sealed class HotState<T> : MagazineBase
    where T : class
{
    /// <summary>The id of the tier this state belongs to (ids are never reused).</summary>
    internal readonly int TierId;

    /// <summary>Set (once, for good) when the tier closes: the thread may then make another tier's state its primary one.</summary>
    internal volatile bool Retired;

    internal HotSlots<T> Slots;
    internal HotCounters ClassHits;

    internal HotState(Thread owner, int tierId)
        : base(owner)
    {
        TierId = tierId;
    }
}

/// <summary>One slot per size class.</summary>
[InlineArray(SizeClasses.CountConst)]
internal struct HotSlots<T>
    where T : class
{
    private T? _element0;
}

/// <summary>Allocations served from the hot slot, per size class (owner writes; read racily).</summary>
[InlineArray(SizeClasses.CountConst)]
internal struct HotCounters
{
    private long _element0;
}

/// <summary>
/// The front of a pool: per thread, one free object per size class, taken and given back with no
/// atomic instruction and as few dependent loads as the language allows (thread-static → state →
/// slot, for the thread's primary tier of a kind), the way <see cref="System.Buffers.ArrayPool{T}.Shared"/>
/// keeps one array per thread and bucket. Behind each slot the class's per-thread magazine takes
/// what does not fit.
/// </summary>
/// <remarks>
/// <para><b>Why a tier of its own.</b> A magazine is a stack: rent reads its count, then the slot
/// under it, and return writes the slot at the count. In a rent-use-return loop both go through the
/// memory the previous operation just stored (store-to-load forwarding twice per operation), on top
/// of the loads that find the magazine from the buffer's size. A single slot per class in an object
/// found from the thread's table alone takes one forwarded load per operation.</para>
/// <para><b>Primary state.</b> A thread's state in the first tier of a kind (<typeparamref name="T"/>)
/// it uses is also its primary state, in a thread-static of its own, so that the fast paths of that
/// tier's pool skip the table. Other pools of the kind on that thread miss there (the state's
/// <c>TierId</c> differs) and find their state in the table on their outlined paths. When the
/// primary's tier closes, its states are <c>Retired</c> and the next pool of the kind the thread
/// reaches on an outlined path takes the primary's place (one disposed allocator does not slow
/// the next one down).</para>
/// <para><b>Ownership.</b> A hot object is free, bears its free mark like any object in a magazine,
/// and is counted as cached (not active) by its cache. Only the owner thread moves objects in and
/// out on the fast path; a flusher moves them to the class's sink after the handshake; an exited
/// thread's state is emptied and dropped by the next flush.</para>
/// <para><b>Closing</b> (the allocator was disposed) leaves every state's FlushRequested at 1 for
/// good, so the fast path always fails over to the pool's slow path.</para>
/// </remarks>
internal sealed class HotTier<T>
    where T : class
{
    // The calling thread's state in one tier of this T, its primary one: the first it was given,
    // replaced only once that tier has closed (Retired). The fast paths of that tier's pool reach
    // the state with this thread-static read and a compare of the state's TierId, one dependent
    // load fewer than the thread's table (table, then table[id]): a rent+return pair about a tenth
    // faster (perf/ab.sh). A thread using several pools of one kind finds the others' states in its
    // table, on their outlined paths. Owner thread only.
    [ThreadStatic]
    private static HotState<T>? t_primary;

    private readonly int _id = ThreadCacheTable.NewId();

    // Protects _states and _sinks.
    private readonly Lock _registryLock = new();
    private readonly List<HotState<T>> _states = new();
    private readonly IHotSink<T>?[] _sinks = new IHotSink<T>?[SizeClasses.CountConst];
    private readonly long[] _droppedHits = new long[SizeClasses.CountConst];
    private volatile bool _closed;

    /// <summary>This tier's id in every thread's table.</summary>
    internal int Id => _id;

    /// <summary>The calling thread's primary state (see <c>t_primary</c>), for the fast paths' <c>TryTake</c> and <c>TryPut</c>; null before its first.</summary>
    internal static HotState<T>? Primary
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => t_primary;
    }

    /// <summary>
    /// Fast path: takes the calling thread's hot object of class <paramref name="classIndex"/>
    /// (0 &lt;= classIndex &lt; <see cref="SizeClasses.CountConst"/>, checked by the caller) from
    /// <paramref name="s"/>, a state of the calling thread (its <see cref="Primary"/> state, or one
    /// <see cref="OffPrimary"/> found); false when there is none, when <paramref name="s"/> is not the
    /// state of tier <paramref name="id"/> (or <paramref name="id"/> is negative), or a flush is in progress.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static bool TryTake(HotState<T>? s, int id, int classIndex, out T item)
    {
        if (s is not null && s.TierId == id)
        {
            if (s.TryEnter())
            {
                ref T? slot = ref SlotOf(s, classIndex);
                T? found = slot;
                if (found is not null)
                {
                    slot = null;
                    Unsafe.Add(ref Unsafe.As<HotCounters, long>(ref s.ClassHits), classIndex)++;
                    s.Exit();
                    item = found;
                    return true;
                }

                s.Exit();
            }
        }

        item = null!;
        return false;
    }

    /// <summary>
    /// Fast path: makes <paramref name="item"/> (free and marked) the calling thread's hot object of
    /// its class, so the hot slot always holds the most recently freed object (the tier stays LIFO).
    /// </summary>
    /// <param name="s">A state of the calling thread: its <see cref="Primary"/> state, or one <see cref="OffPrimary"/> found.</param>
    /// <param name="id">The tier's id (negative: no tier).</param>
    /// <param name="classIndex">The class, 0 &lt;= classIndex &lt; <see cref="SizeClasses.CountConst"/> (checked by the caller).</param>
    /// <param name="item">The object freed.</param>
    /// <param name="displaced">The object the slot held before, now the caller's to free further down (null when the slot was empty).</param>
    /// <returns>False when <paramref name="s"/> is not the state of tier <paramref name="id"/> (or null), or a flush is in progress: nothing changed.</returns>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static bool TryPut(HotState<T>? s, int id, int classIndex, T item, out T? displaced)
    {
        if (s is not null && s.TierId == id)
        {
            if (s.TryEnter())
            {
                ref T? slot = ref SlotOf(s, classIndex);
                displaced = slot;
                slot = item;
                s.Exit();
                return true;
            }
        }

        displaced = null;
        return false;
    }

    // The slot of a class, unchecked: the fast paths' callers pass 0 <= classIndex < CountConst
    // (SizeClasses.IndexOfInRange of a checked size, or the class an owner was made for), and
    // the class is the slot's index in the inline array of CountConst slots.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ref T? SlotOf(HotState<T> s, int classIndex)
    {
        Debug.Assert((uint)classIndex < SizeClasses.CountConst);
        return ref Unsafe.Add(ref Unsafe.As<HotSlots<T>, T?>(ref s.Slots), classIndex);
    }

    /// <summary>
    /// The calling thread's table, for a pool's outlined paths: from <paramref name="primary"/> (the
    /// thread's <see cref="Primary"/> state as the fast path read it) when there is one, which saves
    /// a thread-static read.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static MagazineBase?[]? TableOf(HotState<T>? primary) =>
        primary is not null ? primary.ThreadTable : ThreadCacheTable.t_table;

    /// <summary>
    /// For a pool's outlined paths, after its fast path missed with <paramref name="primary"/> (the
    /// thread's <see cref="Primary"/> state as the fast path read it): this tier's state in
    /// <paramref name="table"/> when the primary state is another tier's (null when the primary is
    /// this tier's own, which the fast path has tried already, or the thread has no state here). The
    /// state found becomes the thread's primary when the primary is none or retired.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static HotState<T>? OffPrimary(MagazineBase?[]? table, HotState<T>? primary, int id) =>
        primary is not null && primary.TierId == id ? null : FindOffPrimary(table, primary, id);

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static HotState<T>? FindOffPrimary(MagazineBase?[]? table, HotState<T>? primary, int id)
    {
        // A pool passes its own tier's id, so the entry at a non-negative id is a HotState<T>.
        HotState<T>? s = Unsafe.As<HotState<T>?>(ThreadCacheTable.Lookup(table, id));
        if (s is not null && !s.Retired && (primary is null || primary.Retired))
        {
            t_primary = s;
        }

        return s;
    }

    /// <summary>
    /// Slow path (the pools call it from theirs): gives the calling thread a state in this tier so
    /// that its next operations are fast; once the tier is closed, empties the calling thread's
    /// state instead (objects a busy owner kept through <see cref="Close"/>).
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    internal void OnSlowPath()
    {
        if (ThreadCacheTable.Lookup(_id) is HotState<T> existing)
        {
            if (_closed)
            {
                DrainOwn(existing);
            }

            return;
        }

        if (_closed)
        {
            return;
        }

        MagazineBase?[] table = ThreadCacheTable.TableFor(_id);
        var state = new HotState<T>(Thread.CurrentThread, _id);
        lock (_registryLock)
        {
            if (_closed)
            {
                state.FlushRequested = 1; // never used: the fast path keeps failing over to the slow path
                state.Retired = true;
            }

            _states.Add(state);
        }

        ThreadCacheTable.Store(table, _id, state);
        if (!state.Retired && (t_primary is null || t_primary.Retired))
        {
            t_primary = state;
        }
    }

    private void DrainOwn(HotState<T> s)
    {
        IHotSink<T>?[] sinks;
        lock (_registryLock)
        {
            sinks = (IHotSink<T>?[])_sinks.Clone();
        }

        lock (s.SyncRoot)
        {
            DrainSlots(s, sinks, 0, SizeClasses.CountConst - 1);
        }
    }

    // The caller holds s.SyncRoot and knows the owner is outside its fast path.
    private static int DrainSlots(HotState<T> s, IHotSink<T>?[] sinks, int first, int last)
    {
        int moved = 0;
        for (int c = first; c <= last; c++)
        {
            T? item = s.Slots[c];
            if (item is not null && sinks[c] is { } sink)
            {
                s.Slots[c] = null;
                sink.Drain(new ReadOnlySpan<T>(in item));
                moved++;
            }
        }

        return moved;
    }

    /// <summary>Names the sink of class <paramref name="classIndex"/> and returns the class's view for its cache's statistics and flushes.</summary>
    internal IThreadCache Attach(int classIndex, IHotSink<T> sink)
    {
        lock (_registryLock)
        {
            _sinks[classIndex] = sink;
        }

        return new ClassView(this, classIndex);
    }

    /// <summary>
    /// Moves the hot objects of <paramref name="classIndex"/> (every class when negative) of every
    /// thread not inside its fast path to their sinks; states of exited threads are emptied and dropped.
    /// </summary>
    /// <returns>Objects moved.</returns>
    internal int Flush(int classIndex)
    {
        HotState<T>[] snapshot;
        IHotSink<T>?[] sinks;
        lock (_registryLock)
        {
            snapshot = _states.ToArray();
            sinks = (IHotSink<T>?[])_sinks.Clone();
        }

        if (snapshot.Length == 0)
        {
            return 0;
        }

        int moved = 0;
        var gone = new List<HotState<T>>();
        ThreadCacheTable.Handshake(snapshot, () => _closed, s =>
        {
            bool exited = !s.Owner.IsAlive;
            int first = classIndex < 0 || exited ? 0 : classIndex;
            int last = classIndex < 0 || exited ? SizeClasses.CountConst - 1 : classIndex;
            moved += DrainSlots(s, sinks, first, last);
            if (exited)
            {
                gone.Add(s);
            }
        });

        if (gone.Count > 0)
        {
            lock (_registryLock)
            {
                foreach (HotState<T> s in gone)
                {
                    _states.Remove(s);
                    for (int c = 0; c < SizeClasses.CountConst; c++)
                    {
                        _droppedHits[c] += s.ClassHits[c];
                    }
                }
            }
        }

        return moved;
    }

    /// <summary>Empties every state and keeps the tier closed (the allocator was disposed).</summary>
    /// <remarks>
    /// One flush is enough: it leaves FlushRequested at 1 in every state, so an owner that was busy
    /// during it fails over to its slow path next time and empties its own state there
    /// (<see cref="OnSlowPath"/>). Later calls (every class's cache closes its view) do nothing.
    /// </remarks>
    internal void Close()
    {
        lock (_registryLock)
        {
            if (_closed)
            {
                return;
            }

            _closed = true;
            foreach (HotState<T> s in _states)
            {
                s.Retired = true;
            }
        }

        Flush(-1);
    }

    private long Cached(int classIndex)
    {
        long n = 0;
        lock (_registryLock)
        {
            foreach (HotState<T> s in _states)
            {
                if (Volatile.Read(ref s.Slots[classIndex]) is not null)
                {
                    n++;
                }
            }
        }

        return n;
    }

    private long HitsOf(int classIndex)
    {
        lock (_registryLock)
        {
            long n = _droppedHits[classIndex];
            foreach (HotState<T> s in _states)
            {
                n += Volatile.Read(ref s.ClassHits[classIndex]);
            }

            return n;
        }
    }

    /// <summary>One class of the tier, as its cache sees it: objects held, hits, flush, close.</summary>
    private sealed class ClassView(HotTier<T> tier, int classIndex) : IThreadCache
    {
        public long CachedObjects => tier.Cached(classIndex);

        public (long Hits, long Misses) Counters => (tier.HitsOf(classIndex), 0);

        public int FlushRemote() => tier.Flush(classIndex);

        // The allocator closes every cache; the first close of a class closes the whole tier (once).
        public void Close() => tier.Close();
    }
}
