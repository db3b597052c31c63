using System;
using System.Collections.Generic;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Threading;

namespace SlabPools.Slabs;

/// <summary>
/// Tier 0, in front of the per-CPU active slab: each thread keeps a small array ("magazine", the
/// "sheaf" of newer SLUB) of free objects per cache, used with no atomic instruction.
/// </summary>
/// <remarks>
/// <para><b>Who touches a magazine.</b> Its owner thread, on the fast path and on the slow path,
/// with plain reads and writes bracketed by <c>Busy = 1 … Busy = 0</c> (the slow path holds
/// <c>SyncRoot</c> instead when it finds a flush requested); and a flusher on another thread,
/// holding <c>SyncRoot</c>, only after proving the owner is in neither path.</para>
/// <para><b>The proof (an asymmetric Dekker handshake).</b> The owner writes <c>Busy = 1</c> and then
/// reads <c>FlushRequested</c>; if it reads 1 it leaves by the slow path, which waits on
/// <c>SyncRoot</c>. The flusher writes <c>FlushRequested = 1</c>, runs
/// <see cref="Interlocked.MemoryBarrierProcessWide"/> (a fence executed on every processor), then
/// reads <c>Busy</c>. After that fence either the owner's <c>Busy = 1</c> is visible to the flusher
/// (it skips the magazine), or the owner's next read of <c>FlushRequested</c> sees 1 (it stays out).
/// The owner pays two plain stores and one load; only the flusher, every few seconds, pays for the
/// fence. On Arm64 the owner's release store and acquire load are ordered by the hardware anyway.
/// The owner reads <c>Count</c> only after the flag: read earlier (the JIT may hoist an ordinary load
/// above a release store) it could predate a whole flush and index drained slots.</para>
/// <para>Magazines of threads that have exited are drained and dropped by the next flush.</para>
/// </remarks>
internal abstract class MagazineBase
{
    internal readonly Lock SyncRoot = new();
    internal readonly Thread Owner;
    internal int Busy;            // written by the owner only
    internal int FlushRequested;  // written by a flusher holding SyncRoot
    internal int Count;           // owner (fast path, or slow path under SyncRoot), or a flusher as described above
    internal long Hits;           // owner only; read racily for statistics
    internal long Misses;         // owner's slow path only; read racily for statistics

    // The owner thread's table (ThreadCacheTable.t_table) that holds this entry: set by Store, kept
    // current by TableFor when it grows the table; owner only. A hot state's pool reaches the
    // thread's magazines through it on its outlined paths without another thread-static read (a
    // call on Linux).
    internal MagazineBase?[]? ThreadTable;

    protected MagazineBase(Thread owner) => Owner = owner;

    /// <summary>
    /// The owner's half of the handshake (see the remarks): raises Busy and reads FlushRequested;
    /// true when no flush is requested, and the owner may then touch the state until it calls
    /// <see cref="Exit"/>; false (Busy lowered again) when a flush is in progress.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal bool TryEnter()
    {
        Volatile.Write(ref Busy, 1);
        if (Volatile.Read(ref FlushRequested) == 0)
        {
            return true;
        }

        Volatile.Write(ref Busy, 0);
        return false;
    }

    /// <summary>Ends what <see cref="TryEnter"/> began.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal void Exit() => Volatile.Write(ref Busy, 0);
}

/// <summary>A magazine of objects of type <typeparamref name="T"/>.</summary>
/// <remarks>
/// The objects are stored inline (<see cref="Slots"/>), not in an array the magazine points to: one
/// dependent load less on the fast path, and no covariance check when a reference is stored.
/// </remarks>
internal sealed class Magazine<T> : MagazineBase
{
    internal const int MaxCapacity = 64;

    internal readonly int Capacity;
    internal MagazineSlots<T> Slots;

    internal Magazine(int capacity, Thread owner)
        : base(owner) => Capacity = Math.Clamp(capacity, 2, MaxCapacity);

    /// <summary>The first <see cref="Capacity"/> slots.</summary>
    internal Span<T> Items => MemoryMarshal.CreateSpan(ref Unsafe.As<MagazineSlots<T>, T>(ref Slots), Capacity);

    /// <summary>Slot <paramref name="index"/>; the caller has checked <c>index &lt; Capacity</c>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal ref T At(int index) => ref Unsafe.Add(ref Unsafe.As<MagazineSlots<T>, T>(ref Slots), index);
}

/// <summary>Room for the largest magazine, inline in the magazine object.</summary>
[InlineArray(Magazine<int>.MaxCapacity)]
internal struct MagazineSlots<T>
{
    private T _element0;
}

/// <summary>The tier below the magazines: fills an empty magazine and takes the overflow of a full one.</summary>
internal interface IMagazineBackend<T>
{
    /// <summary>Fills <paramref name="destination"/> with at least one free object; throws <see cref="OutOfMemoryException"/> when none can be had.</summary>
    int Refill(Span<T> destination);

    /// <summary>Takes back free objects.</summary>
    void Drain(ReadOnlySpan<T> objects);

    /// <summary>
    /// Counts a slow path served by the magazines' depot as activity of this tier: the flusher must
    /// stay armed while objects flow through the depot without reaching the backend, or the
    /// objects left in magazines and depot when the flow stops would never be flushed.
    /// </summary>
    void NoteActivity();
}

/// <summary>What the flusher and the statistics need from a thread cache, whatever its item type.</summary>
internal interface IThreadCache
{
    /// <summary>Objects held free in magazines now (racy).</summary>
    long CachedObjects { get; }

    /// <summary>Allocations served by magazines, and those that went to the slow path (racy).</summary>
    (long Hits, long Misses) Counters { get; }

    /// <summary>Drains every magazine whose owner is not inside its fast path (all of them when the owners are idle or gone).</summary>
    int FlushRemote();

    /// <summary>Drains every magazine and keeps the tier closed (the allocator was disposed).</summary>
    void Close();
}

/// <summary>The per-thread slot table shared by every thread cache.</summary>
internal static class ThreadCacheTable
{
    [ThreadStatic]
    internal static MagazineBase?[]? t_table;

    private static int s_nextId;

    internal static int NewId() => Interlocked.Increment(ref s_nextId) - 1;

    /// <summary>The calling thread's entry at <paramref name="id"/>, or null (also for a negative id).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static MagazineBase? Lookup(int id) => Lookup(t_table, id);

    /// <summary>
    /// The entry at <paramref name="id"/> of <paramref name="table"/>, the calling thread's table read
    /// once by a caller that looks up several entries (a thread-static read is a call on Linux).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static MagazineBase? Lookup(MagazineBase?[]? table, int id) =>
        table is not null && (uint)id < (uint)table.Length ? table[id] : null;

    /// <summary>The calling thread's table, grown to hold <paramref name="id"/>.</summary>
    internal static MagazineBase?[] TableFor(int id)
    {
        MagazineBase?[]? table = t_table;
        if (table is null || id >= table.Length)
        {
            var bigger = new MagazineBase?[Math.Max(id + 1, (table?.Length ?? 8) * 2)];
            table?.CopyTo(bigger, 0);
            t_table = table = bigger;
            foreach (MagazineBase? entry in bigger)
            {
                entry?.ThreadTable = bigger;
            }
        }

        return table;
    }

    /// <summary>Puts <paramref name="entry"/> at <paramref name="id"/> of the calling thread's <paramref name="table"/> (from <see cref="TableFor"/>).</summary>
    internal static void Store(MagazineBase?[] table, int id, MagazineBase entry)
    {
        table[id] = entry;
        entry.ThreadTable = table;
    }

    /// <summary>
    /// The flusher's half of the handshake described on <see cref="MagazineBase"/>: takes every
    /// state's lock, raises FlushRequested, fences every processor, and calls
    /// <paramref name="drain"/> for each state whose owner is not inside its fast path (with the
    /// lock still held); then lowers the flags (unless <paramref name="keepRequested"/>: the tier
    /// was closed) and releases the locks.
    /// </summary>
    internal static void Handshake<TState>(TState[] states, Func<bool> keepRequested, Action<TState> drain)
        where TState : MagazineBase
    {
        foreach (TState s in states)
        {
            s.SyncRoot.Enter();
            Volatile.Write(ref s.FlushRequested, 1);
        }

        try
        {
            // After this fence an owner is either visibly Busy or will see FlushRequested.
            Interlocked.MemoryBarrierProcessWide();
            foreach (TState s in states)
            {
                if (Volatile.Read(ref s.Busy) == 0)
                {
                    drain(s);
                }
            }
        }
        finally
        {
            bool keep = keepRequested();
            foreach (TState s in states)
            {
                if (!keep)
                {
                    Volatile.Write(ref s.FlushRequested, 0);
                }

                s.SyncRoot.Exit();
            }
        }
    }
}

/// <summary>Per-thread magazines of one cache (or one pool over a cache).</summary>
internal sealed class ThreadCache<T> : IThreadCache
{
    private readonly int _id = ThreadCacheTable.NewId();
    private readonly int _capacity;
    private readonly IMagazineBackend<T> _backend;

    // Full half-magazines left by threads that free more than they allocate, for threads that
    // allocate more than they free (null: the backend is itself a cheap batch store).
    private readonly MagazineDepot<T>? _depot;

    // Protects _magazines (registration and removal of whole magazines).
    private readonly Lock _registryLock = new();
    private readonly List<Magazine<T>> _magazines = new();

    // Set once by Close (the allocator was disposed): every magazine keeps FlushRequested = 1 for
    // good, so the fast path always falls to the slow path, which hands objects straight back.
    private volatile bool _closed;

    // Hits and misses of magazines dropped with their exited threads, so counters never go back.
    private long _droppedHits;
    private long _droppedMisses;

    /// <param name="capacity">Objects per magazine (clamped to 2..<see cref="Magazine{T}.MaxCapacity"/>).</param>
    /// <param name="backend">Where magazines refill from and drain to.</param>
    /// <param name="depotBatches">Half-magazines the depot between the magazines and the backend holds at most; 0 for no depot.</param>
    internal ThreadCache(int capacity, IMagazineBackend<T> backend, int depotBatches = 0)
    {
        _capacity = Math.Clamp(capacity, 2, Magazine<T>.MaxCapacity);
        _backend = backend;
        if (depotBatches > 0)
        {
            _depot = new MagazineDepot<T>(_capacity / 2, depotBatches);
        }
    }

    /// <summary>The depot between the magazines and the backend (null when there is none).</summary>
    internal MagazineDepot<T>? Depot => _depot;

    internal int Capacity => _capacity;

    /// <summary>The id of this cache's magazines in every thread's table (see <see cref="TryPop(int, out T)"/>).</summary>
    internal int Id => _id;

    /// <summary>Fast path: pops a cached object of the calling thread, or returns false.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal bool TryPop(out T item) => TryPop(_id, out item);

    /// <summary>Fast path: caches a free object on the calling thread, or returns false.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal bool TryPush(T item) => TryPush(_id, item);

    /// <summary>
    /// Fast path by id: pops a cached object from the calling thread's magazine of the thread cache
    /// whose <see cref="Id"/> is <paramref name="id"/>, or returns false (also for a negative id).
    /// </summary>
    /// <remarks>
    /// The pools call this with an id they keep per size class, so that the dependent loads before
    /// the magazine are the thread's table and one array element, not pool → cache → thread cache →
    /// id. The caller guarantees that a non-negative id is that of a <see cref="ThreadCache{T}"/> of
    /// this <typeparamref name="T"/>: the table only ever holds that cache's <see cref="Magazine{T}"/>
    /// at its id.
    /// </remarks>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static bool TryPop(int id, out T item) => TryPop(ThreadCacheTable.t_table, id, out item);

    /// <summary>As <see cref="TryPop(int, out T)"/>, in <paramref name="table"/>: the calling thread's table, read by the caller.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static bool TryPop(MagazineBase?[]? table, int id, out T item) => TryPop(table, id, out item, out _, withNext: false);

    /// <summary>
    /// As <see cref="TryPop(MagazineBase?[], int, out T)"/>, also giving the object the next pop
    /// would take (default when the magazine is then empty), read under the same entry, so that the
    /// caller can prefetch its memory.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static bool TryPop(MagazineBase?[]? table, int id, out T item, out T? next) => TryPop(table, id, out item, out next, withNext: true);

    // withNext is a constant at both call sites above: the inlined copy without it reads nothing more.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static bool TryPop(MagazineBase?[]? table, int id, out T item, out T? next, bool withNext)
    {
        MagazineBase? mb = ThreadCacheTable.Lookup(table, id);
        if (mb is not null)
        {
            Magazine<T> m = Unsafe.As<Magazine<T>>(mb);
            // Busy first, then FlushRequested, and only then Count: the acquire read of the flag
            // keeps the JIT and the processor from reading Count early (a Count read before the
            // flag could be from before a flush that then completed unseen).
            if (m.TryEnter())
            {
                int n = m.Count - 1;
                if ((uint)n < (uint)m.Capacity)
                {
                    item = m.At(n);
                    next = withNext && n > 0 ? m.At(n - 1) : default;
                    m.Count = n;
                    m.Hits++;
                    m.Exit();
                    return true;
                }

                m.Exit();
            }
        }

        item = default!;
        next = default;
        return false;
    }

    /// <summary>Fast path by id: caches a free object on the calling thread, or returns false (see <see cref="TryPop(int, out T)"/>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static bool TryPush(int id, T item) => TryPush(ThreadCacheTable.t_table, id, item);

    /// <summary>As <see cref="TryPush(int, T)"/>, in <paramref name="table"/>: the calling thread's table, read by the caller.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static bool TryPush(MagazineBase?[]? table, int id, T item)
    {
        MagazineBase? mb = ThreadCacheTable.Lookup(table, id);
        if (mb is not null)
        {
            Magazine<T> m = Unsafe.As<Magazine<T>>(mb);
            if (m.TryEnter())
            {
                int n = m.Count;
                if ((uint)n < (uint)m.Capacity)
                {
                    m.At(n) = item;
                    m.Count = n + 1;
                    m.Exit();
                    return true;
                }

                m.Exit();
            }
        }

        return false;
    }

    /// <summary>Slow path of an allocation: refill the calling thread's magazine with a batch from the depot, or else from the backend.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    internal T PopSlow()
    {
        if (_closed)
        {
            DrainOwnMagazine();
            throw new ObjectDisposedException(nameof(SlabAllocator));
        }

        Magazine<T> m = GetOrCreateMagazine();
        // The owner's slow path runs under the same handshake as its fast path (Busy, then the
        // flag), so it takes no lock unless a flush is in progress: a flusher skips a busy magazine.
        // The backend never calls back into this thread cache on this thread (a nested fast path
        // would clear Busy); a flusher tick run by the TimeProvider inside the backend's arming
        // finds the magazine busy and skips it. PushSlow does the same.
        if (m.TryEnter())
        {
            try
            {
                return PopOwned(m);
            }
            finally
            {
                m.Exit();
            }
        }

        lock (m.SyncRoot)
        {
            return PopOwned(m);
        }
    }

    // The caller owns m: Busy with no flush requested, or SyncRoot held.
    private T PopOwned(Magazine<T> m)
    {
        m.Misses++;
        if (m.Count == 0)
        {
            int fromDepot = _depot?.TryTake(m.Items) ?? 0;
            if (fromDepot > 0)
            {
                _backend.NoteActivity();
            }

            m.Count = fromDepot > 0 ? fromDepot : _backend.Refill(m.Items);
        }

        int n = --m.Count;
        return m.At(n);
    }

    /// <summary>Slow path of a free: move the older half of a full magazine to the depot as one batch, or else to the backend.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    internal void PushSlow(T item)
    {
        if (_closed)
        {
            _backend.Drain(new ReadOnlySpan<T>(in item));
            DrainOwnMagazine();
            return;
        }

        Magazine<T> m = GetOrCreateMagazine();
        if (m.TryEnter())
        {
            try
            {
                PushOwned(m, item);
            }
            finally
            {
                m.Exit();
            }

            return;
        }

        lock (m.SyncRoot)
        {
            PushOwned(m, item);
        }
    }

    // The caller owns m (see PopOwned).
    private void PushOwned(Magazine<T> m, T item)
    {
        if (m.Count == m.Capacity)
        {
            int half = m.Capacity / 2;
            Span<T> items = m.Items;
            if (_depot is not null && _depot.TryPut(items[..half]))
            {
                _backend.NoteActivity();
            }
            else
            {
                _backend.Drain(items[..half]);
            }

            items[half..m.Count].CopyTo(items);
            items[(m.Count - half)..].Clear();
            m.Count -= half;
        }

        m.At(m.Count++) = item;
    }

    private Magazine<T> GetOrCreateMagazine()
    {
        MagazineBase?[] table = ThreadCacheTable.TableFor(_id);
        if (table[_id] is Magazine<T> existing)
        {
            return existing;
        }

        var m = new Magazine<T>(_capacity, Thread.CurrentThread);
        lock (_registryLock)
        {
            _magazines.Add(m);
        }

        ThreadCacheTable.Store(table, _id, m);
        return m;
    }

    /// <inheritdoc/>
    public long CachedObjects
    {
        get
        {
            long total = 0;
            lock (_registryLock)
            {
                foreach (Magazine<T> m in _magazines)
                {
                    total += Volatile.Read(ref m.Count);
                }
            }

            return total + (_depot?.CachedObjects ?? 0);
        }
    }

    /// <inheritdoc/>
    public (long Hits, long Misses) Counters
    {
        get
        {
            long hits = 0, misses = 0;
            lock (_registryLock)
            {
                hits = _droppedHits;
                misses = _droppedMisses;
                foreach (Magazine<T> m in _magazines)
                {
                    hits += Volatile.Read(ref m.Hits);
                    misses += Volatile.Read(ref m.Misses);
                }
            }

            return (hits, misses);
        }
    }

    // After Close: what a magazine still held because its owner was busy during Close goes back now.
    private void DrainOwnMagazine()
    {
        if (ThreadCacheTable.Lookup(_id) is Magazine<T> m)
        {
            lock (m.SyncRoot)
            {
                if (m.Count > 0)
                {
                    _backend.Drain(m.Items[..m.Count]);
                    m.Items[..m.Count].Clear();
                    m.Count = 0;
                }
            }
        }
    }

    /// <summary>
    /// Drains every magazine and keeps them closed: from now on frees go straight to the backend and
    /// allocations throw <see cref="ObjectDisposedException"/>. Magazines busy at the time are
    /// drained when their owner next touches them (their next operation takes the slow path).
    /// </summary>
    public void Close()
    {
        _closed = true;
        FlushRemote();
    }

    /// <inheritdoc/>
    public int FlushRemote()
    {
        Magazine<T>[] snapshot;
        lock (_registryLock)
        {
            snapshot = _magazines.ToArray();
        }

        if (snapshot.Length == 0)
        {
            // No magazine left to drain (their threads exited and were dropped): the depot may
            // still hold what they left there.
            return _depot?.DrainTo(_backend, close: _closed) ?? 0;
        }

        int drained = 0;
        var gone = new List<Magazine<T>>();
        ThreadCacheTable.Handshake(snapshot, () => _closed, m =>
        {
            int count = m.Count;
            if (count > 0)
            {
                _backend.Drain(m.Items[..count]);
                m.Items[..count].Clear();
                m.Count = 0;
                drained += count;
            }

            if (!m.Owner.IsAlive)
            {
                gone.Add(m);
            }
        });

        if (gone.Count > 0)
        {
            lock (_registryLock)
            {
                foreach (Magazine<T> m in gone)
                {
                    _magazines.Remove(m);
                    _droppedHits += m.Hits;
                    _droppedMisses += m.Misses;
                }
            }
        }

        // After the magazines, whose drains may have left nothing here but whose owners' slow
        // paths may have: the depot's batches go back to the slabs too.
        if (_depot is not null)
        {
            drained += _depot.DrainTo(_backend, close: _closed);
        }

        return drained;
    }
}
