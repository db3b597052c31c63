using System;
using System.Collections.Generic;
using System.Runtime.CompilerServices;
using System.Threading;

namespace SlabPools;

/// <summary>
/// Read-copy-update grace periods for the slab caches of one allocator (epoch based). Readers that
/// walk shared structures without locks bracket the walk with <see cref="EnterReadSection"/>;
/// caches created with <see cref="SlabCacheOptions.TypesafeByRcu"/> release slabs (and, with
/// <see cref="SlabCacheOptions.DeferReuseByRcu"/>, reuse objects) only after every reader that was
/// inside a read section when the slab or object was retired has left it.
/// </summary>
/// <remarks>
/// <para>Each thread has one record per domain holding the epoch it entered at (0 when outside).
/// Entering writes that epoch with a plain release store and leaving writes 0; no atomic
/// instruction. Retiring bumps the global epoch and queues the work with the new epoch. Before a
/// reclaimer looks at the records it runs <see cref="Interlocked.MemoryBarrierProcessWide"/>, so a
/// reader is either visibly inside with an older epoch (the work waits) or entered after the retire
/// and cannot reach what was retired.</para>
/// <para>Deferred work runs when <see cref="Synchronize"/> is called, and whenever the caches are
/// shrunk or flushed (the flusher ticks while the cache is active). A thread that exits inside a
/// read section blocks reclaim for ever: always leave sections (use <c>using</c>).</para>
/// </remarks>
public sealed class SlabRcu
{
    private static int s_nextId;

    [ThreadStatic]
    private static Reader?[]? t_readers;

    private readonly int _id = Interlocked.Increment(ref s_nextId) - 1;
    private long _epoch = 1;

    // Protects _readers (registration) and _pending (deferred work in retire order).
    private readonly Lock _lock = new();
    private readonly List<Reader> _readers = new();
    private readonly Queue<(long Epoch, Action Work)> _pending = new();

    internal SlabRcu()
    {
    }

    private sealed class Reader
    {
        internal long Epoch;   // 0 outside any read section
        internal int Nesting;
    }

    /// <summary>A read section: dispose it to leave.</summary>
    public readonly struct ReadSection : IDisposable
    {
        private readonly SlabRcu? _rcu;

        internal ReadSection(SlabRcu rcu) => _rcu = rcu;

        /// <summary>Leaves the read section.</summary>
        public void Dispose() => _rcu?.Exit();
    }

    /// <summary>Work retired and not yet run.</summary>
    public int PendingCount
    {
        get
        {
            lock (_lock)
            {
                return _pending.Count;
            }
        }
    }

    /// <summary>Enters a read section (sections nest). Costs two plain stores; never blocks.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public ReadSection EnterReadSection()
    {
        Reader r = CurrentReader();
        if (r.Nesting++ == 0)
        {
            Volatile.Write(ref r.Epoch, Volatile.Read(ref _epoch));
        }

        return new ReadSection(this);
    }

    private void Exit()
    {
        Reader r = CurrentReader();
        if (r.Nesting <= 0)
        {
            throw new InvalidOperationException("Read section left more often than entered.");
        }

        if (--r.Nesting == 0)
        {
            Volatile.Write(ref r.Epoch, 0);
        }
    }

    /// <summary><see langword="true"/> when the calling thread is inside a read section of this domain.</summary>
    public bool InReadSection
    {
        get
        {
            Reader?[]? readers = t_readers;
            return readers is not null && _id < readers.Length && readers[_id] is { Nesting: > 0 };
        }
    }

    private Reader CurrentReader()
    {
        Reader?[]? readers = t_readers;
        if (readers is not null && _id < readers.Length && readers[_id] is Reader r)
        {
            return r;
        }

        return RegisterReader();
    }

    private Reader RegisterReader()
    {
        Reader?[]? readers = t_readers;
        if (readers is null || _id >= readers.Length)
        {
            Array.Resize(ref readers, Math.Max(_id + 1, (readers?.Length ?? 4) * 2));
            t_readers = readers;
        }

        var r = new Reader();
        lock (_lock)
        {
            _readers.Add(r);
        }

        readers[_id] = r;
        return r;
    }

    /// <summary>Queues <paramref name="work"/> to run after a grace period.</summary>
    internal void Defer(Action work)
    {
        long epoch = Interlocked.Increment(ref _epoch);
        lock (_lock)
        {
            _pending.Enqueue((epoch, work));
        }
    }

    /// <summary>Runs the deferred work whose grace period has passed; returns how many items ran.</summary>
    internal int Poll()
    {
        lock (_lock)
        {
            if (_pending.Count == 0)
            {
                return 0;
            }
        }

        // See the class remarks: after this fence every reader inside a section is visible.
        Interlocked.MemoryBarrierProcessWide();
        long oldest = long.MaxValue;
        var due = new List<Action>();
        lock (_lock)
        {
            foreach (Reader r in _readers)
            {
                long e = Volatile.Read(ref r.Epoch);
                if (e != 0 && e < oldest)
                {
                    oldest = e;
                }
            }

            // A reader that entered at epoch e can have seen everything retired before e.
            while (_pending.Count > 0 && _pending.Peek().Epoch <= oldest)
            {
                due.Add(_pending.Dequeue().Work);
            }
        }

        foreach (Action work in due)
        {
            work();
        }

        return due.Count;
    }

    /// <summary>
    /// Waits until every read section open now has been left and runs the work retired before this
    /// call. Must not be called inside a read section.
    /// </summary>
    /// <param name="timeout">How long to wait at most.</param>
    /// <returns><see langword="false"/> when readers were still inside after <paramref name="timeout"/>.</returns>
    /// <exception cref="InvalidOperationException">Called inside a read section (it would wait for itself).</exception>
    public bool Synchronize(TimeSpan timeout)
    {
        if (InReadSection)
        {
            throw new InvalidOperationException("Synchronize was called inside a read section and would wait for itself.");
        }

        bool done = false;
        Defer(() => done = true);
        long deadline = Environment.TickCount64 + (long)timeout.TotalMilliseconds;
        var spinner = new SpinWait();
        while (true)
        {
            Poll();
            if (Volatile.Read(ref done))
            {
                return true;
            }

            if (Environment.TickCount64 >= deadline)
            {
                return false;
            }

            spinner.SpinOnce();
        }
    }
}
