using System;
using System.Threading;
using SlabPools.Slabs;

namespace SlabPools.Reclaim;

/// <summary>
/// The seed's per-cache flusher, replacing the old global reaper: a timer that runs only while its
/// cache is active. Each tick returns idle threads' magazines and the per-CPU slabs to the partial
/// lists and releases the empty slabs that nobody has used since the previous tick (beyond
/// <see cref="KeepEmptySlabsPerNode"/>), so that a steady load keeps the slabs it cycles through; a
/// tick that finds no activity since the previous one releases every empty slab and disarms the
/// timer, so an idle process holds no free slabs and runs no timer at all. After either, the
/// allocator hears what managed memory went (<see cref="IFlushListener"/>) and may ask for a
/// collection.
/// </summary>
/// <remarks>
/// <para>Activity is the cache's count of calls into its slab layer (refills and drains of
/// per-thread magazines, which every burst and every cross-thread pattern produces). The cache
/// calls <see cref="NoteActivity"/> on that slow path; arming costs one volatile read when the
/// flusher is already armed.</para>
/// <para>Disarming races with new activity: the tick disarms first and then looks at the activity
/// count once more, re-arming if it moved, so no activity is left without a flusher.</para>
/// <para>Arming runs on the cache's slow path, under a magazine's (reentrant) lock and with that
/// magazine half rebuilt. A <see cref="TimeProvider"/> may run due timer callbacks on the thread
/// that calls into it (FakeTimeProvider does, from <see cref="ITimer.Change"/>, while another
/// thread advances the clock): a tick there would flush the magazine from under its own slow path.
/// Such a tick is skipped; the periodic timer fires again one interval later.</para>
/// </remarks>
internal sealed class CacheFlusher : IDisposable
{
    /// <summary>Empty slabs kept per node after a tick: a small cushion for the next request.</summary>
    internal const int KeepEmptySlabsPerNode = 1;

    private readonly IObjectCache _cache;

    // Told how many managed bytes a tick released (only a GC gives them back to the operating
    // system) and when the cache goes idle: the allocator then may ask for a collection.
    private readonly IFlushListener? _listener;
    private readonly TimeProvider _time;
    private readonly TimeSpan _interval;
    private readonly Lock _timerLock = new();
    private ITimer? _timer;          // guarded by _timerLock
    private int _armed;              // 1 while the timer is armed
    private long _lastActivity;
    private long _ticks;
    private bool _disposed;          // guarded by _timerLock

    // True while this thread is inside Arm's calls into the timer (see the remarks).
    [ThreadStatic]
    private static bool t_arming;

    internal CacheFlusher(IObjectCache cache, TimeProvider time, TimeSpan interval, IFlushListener? listener = null)
    {
        _cache = cache;
        _time = time;
        _listener = listener;

        // Timers count whole milliseconds: TimeProvider.System's takes a shorter period as 0, which
        // means "fire once", and the flusher would then stay armed and never run again.
        _interval = interval < MinimumInterval ? MinimumInterval : interval;
    }

    /// <summary>The shortest interval a timer honours; shorter ones are taken as this.</summary>
    internal static readonly TimeSpan MinimumInterval = TimeSpan.FromMilliseconds(1);

    /// <summary>Timer callbacks run so far (for tests and diagnostics).</summary>
    internal long Ticks => Volatile.Read(ref _ticks);

    internal bool IsArmed => Volatile.Read(ref _armed) != 0;

    /// <summary>Called on the cache's slow path: arms the timer if it is not armed.</summary>
    internal void NoteActivity()
    {
        if (Volatile.Read(ref _armed) == 0)
        {
            Arm();
        }
    }

    private void Arm()
    {
        lock (_timerLock)
        {
            if (_disposed || _armed != 0)
            {
                return;
            }

            _lastActivity = _cache.Activity;
            bool outer = t_arming;
            t_arming = true;
            try
            {
                _timer ??= _time.CreateTimer(static s => ((CacheFlusher)s!).Tick(), this, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
                Volatile.Write(ref _armed, 1);
                _timer.Change(_interval, _interval);
            }
            finally
            {
                t_arming = outer;
            }
        }
    }

    private void Tick()
    {
        if (t_arming)
        {
            return; // run by the timer inside Arm, on a slow path: see the remarks
        }

        Interlocked.Increment(ref _ticks);
        _listener?.Ticking();
        long activity = _cache.Activity;
        bool active = activity != Volatile.Read(ref _lastActivity);
        Volatile.Write(ref _lastActivity, activity);

        // Give back what the cache does not use: while it is active, what it has not used for a
        // whole interval (beyond a small cushion); all of it once it has gone idle. Our own flush
        // and shrink count as activity in the slab layer, so the count is read again afterwards.
        _cache.ShrinkCore(flushMagazines: true, keepEmptySlabs: active ? KeepEmptySlabsPerNode : 0, agedOnly: active, out long managedReleased);
        Volatile.Write(ref _lastActivity, _cache.Activity);
        if (managedReleased > 0)
        {
            _listener?.ManagedReleased(managedReleased);
        }

        if (!active)
        {
            Disarm();
            if (_cache.Activity != Volatile.Read(ref _lastActivity))
            {
                Arm(); // activity raced with the disarm
            }
            else
            {
                _listener?.WentIdle();
            }
        }
    }

    private void Disarm()
    {
        lock (_timerLock)
        {
            _timer?.Change(Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
            Volatile.Write(ref _armed, 0);
        }
    }

    public void Dispose()
    {
        lock (_timerLock)
        {
            _disposed = true;
            _timer?.Dispose();
            _timer = null;
            Volatile.Write(ref _armed, 0);
        }
    }
}

/// <summary>What a flusher tells its allocator.</summary>
internal interface IFlushListener
{
    /// <summary>A tick released <paramref name="bytes"/> of managed memory (slabs' arrays, owners).</summary>
    void ManagedReleased(long bytes);

    /// <summary>The flusher found its cache idle and disarmed.</summary>
    void WentIdle();

    /// <summary>A tick begins (before it flushes or releases anything).</summary>
    void Ticking();
}
