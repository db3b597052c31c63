using System;
using System.Runtime.CompilerServices;
using System.Threading;

namespace SlabPools.Slabs;

/// <summary>
/// The depot between a cache's per-thread magazines and its slabs (the magazine depot of Bonwick
/// and Adams; newer SLUB's "barn" of full sheaves): a bounded queue of full batches of free objects.
/// A thread whose magazine overflows leaves half of it here as one batch; a thread whose magazine
/// runs dry takes a whole batch. Objects rented on one thread and returned on another (a socket's
/// send completion returning what a request handler rented) then move between the threads a batch
/// at a time, without the per-object work of the slab layer: no slab lookup, no compare-and-swap
/// on each object's slab, no free-list link written into the object's (cold) memory.
/// </summary>
/// <remarks>
/// <para><b>Layout.</b> One array of <c>maxBatches × BatchSize</c> items: batch <c>k</c> occupies
/// items <c>[k × BatchSize, (k + 1) × BatchSize)</c>, and the <c>_count</c> batches from
/// <c>_first</c> on (wrapping around) are full: a ring. A put copies a half-magazine in after the
/// newest batch, a take copies the oldest out: no per-batch arrays, no covariant array stores.</para>
/// <para><b>Why first in, first out.</b> The depot is how objects cross threads, and an object
/// that crosses has just been used on the other thread's core: a socket's sender copied the whole
/// buffer out before returning it. Handed straight back to the writing thread (a stack gives the
/// newest batch), every cache line the writer then fills is still held by the other core and
/// must be taken from it, and both cores slow down. Taken oldest first, a batch has waited behind
/// the others, long enough for its lines to leave the other core's private caches. Measured on a
/// cross-thread stream of 4 KiB buffers (perf/interleaved.sh, "Streaming"): 1.29-1.41x the time of
/// Kestrel's pool (whose queue is also first in, first out) with a stack, 1.10-1.16x with a ring of
/// the same 2 MiB, 0.84-0.99x with a ring of 8 MiB (see <c>SlabCache.DepotBatchesFor</c>). A
/// thread's own magazine stays a stack: what it takes back there it used itself.</para>
/// <para><b>Invariants.</b> The spin lock <c>_busy</c> protects <c>_items</c>, <c>_first</c>,
/// <c>_count</c> and <c>_closed</c>; its sections only copy one batch, so a spin lock serves (no thread-id lookup,
/// as <see cref="Lock"/> needs); a contended waiter spins, then yields. Items beyond the full
/// batches are cleared (they keep nothing alive). Full batches hold free objects, free marks
/// intact, as in a magazine.</para>
/// <para><b>Reclaim.</b> Objects in the depot are free objects the slabs do not know about: the
/// flusher empties the depot into the backend after the magazines (<see cref="DrainTo"/>), and
/// statistics count them as cached. <see cref="DrainTo"/> takes the batches out one at a time
/// under the spin lock and hands each to the backend outside it, so the backend (which may arm a
/// timer, take the slab layer's locks or release slabs) never runs under the spin lock.</para>
/// </remarks>
/// <typeparam name="T">The magazine item type.</typeparam>
internal sealed class MagazineDepot<T>
{
    private readonly T[] _items;
    private readonly int _maxBatches;
    private int _busy;
    private int _count;
    private int _first; // the oldest full batch's index, when _count > 0
    private bool _closed;

    // Serializes drains (the flusher and Close), which share one scratch batch.
    private readonly Lock _drainLock = new();
    private readonly T[] _drainBatch;

    /// <param name="batchSize">Objects per batch: half a magazine.</param>
    /// <param name="maxBatches">Full batches held at most (at least 1).</param>
    internal MagazineDepot(int batchSize, int maxBatches)
    {
        BatchSize = batchSize;
        _maxBatches = Math.Max(1, maxBatches);
        _items = new T[checked(_maxBatches * batchSize)];
        _drainBatch = new T[batchSize];
    }

    /// <summary>Objects per batch.</summary>
    internal int BatchSize { get; }

    /// <summary>Objects held now (racy, for statistics).</summary>
    internal long CachedObjects => (long)Volatile.Read(ref _count) * BatchSize;

    /// <summary>Keeps <paramref name="objects"/> (exactly <see cref="BatchSize"/> of them) as one batch, or returns false when the depot is full.</summary>
    internal bool TryPut(ReadOnlySpan<T> objects)
    {
        if (objects.Length != BatchSize || Volatile.Read(ref _count) == _maxBatches)
        {
            return false;
        }

        Enter();
        try
        {
            if (_count == _maxBatches || _closed)
            {
                return false;
            }

            int at = _first + _count;
            if (at >= _maxBatches)
            {
                at -= _maxBatches;
            }

            objects.CopyTo(_items.AsSpan(at * BatchSize, BatchSize));
            Volatile.Write(ref _count, _count + 1);
            return true;
        }
        finally
        {
            Exit();
        }
    }

    /// <summary>Moves one batch into <paramref name="destination"/> (at least <see cref="BatchSize"/> long) and returns its count, or 0 when the depot is empty.</summary>
    internal int TryTake(Span<T> destination)
    {
        if (Volatile.Read(ref _count) == 0 || destination.Length < BatchSize)
        {
            return 0;
        }

        Enter();
        try
        {
            if (_count == 0)
            {
                return 0;
            }

            Span<T> batch = _items.AsSpan(_first * BatchSize, BatchSize);
            batch.CopyTo(destination);
            batch.Clear();
            _first = _first + 1 == _maxBatches ? 0 : _first + 1;
            Volatile.Write(ref _count, _count - 1);
            return BatchSize;
        }
        finally
        {
            Exit();
        }
    }

    /// <summary>
    /// Gives every batch back to <paramref name="backend"/>; returns the number of objects. With
    /// <paramref name="close"/> the depot takes no batch from then on (the allocator was disposed):
    /// decided under the spin lock before the drain, so no batch can arrive afterwards and stay unseen.
    /// </summary>
    internal int DrainTo(IMagazineBackend<T> backend, bool close = false)
    {
        if (close)
        {
            Enter();
            _closed = true;
            Exit();
        }

        if (Volatile.Read(ref _count) == 0)
        {
            return 0;
        }

        int drained = 0;
        lock (_drainLock)
        {
            int n;
            while ((n = TryTake(_drainBatch)) > 0)
            {
                // Out of the depot before the backend sees it: should the backend throw, the
                // batch is lost to the pool (a leak), never given back twice.
                try
                {
                    backend.Drain(_drainBatch.AsSpan(0, n));
                }
                finally
                {
                    Array.Clear(_drainBatch);
                }

                drained += n;
            }
        }

        return drained;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void Enter()
    {
        if (Interlocked.CompareExchange(ref _busy, 1, 0) != 0)
        {
            EnterContended();
        }
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void EnterContended()
    {
        var spinner = default(SpinWait);
        do
        {
            spinner.SpinOnce();
        }
        while (Volatile.Read(ref _busy) != 0 || Interlocked.CompareExchange(ref _busy, 1, 0) != 0);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void Exit() => Volatile.Write(ref _busy, 0);
}
