using System;
using System.Threading;

namespace SlabPools.Slabs;

/// <summary>
/// The depot between a cache's per-thread magazines and its slabs (the magazine depot of Bonwick
/// and Adams; newer SLUB's "barn" of full sheaves): a bounded stack of full batches of free objects.
/// A thread whose magazine overflows leaves half of it here as one batch; a thread whose magazine
/// runs dry takes a whole batch. Objects rented on one thread and returned on another (a socket's
/// send completion returning what a request handler rented) then move between the threads a batch
/// at a time, without the per-object work of the slab layer: no slab lookup, no compare-and-swap
/// on each object's slab, no free-list link written into the object's (cold) memory.
/// </summary>
/// <remarks>
/// <para><b>Invariants.</b> <c>_lock</c> protects every field below it. A batch in <c>_full</c>
/// holds exactly <see cref="BatchSize"/> free objects (free marks intact, as in a magazine); an
/// array in <c>_spare</c> holds none (cleared, so that it keeps nothing alive). At most
/// <c>_full.Length</c> batches are held, so the depot holds at most <c>_full.Length ×
/// BatchSize</c> objects; beyond that the magazine's overflow goes to the slabs as before.</para>
/// <para><b>Reclaim.</b> Objects in the depot are free objects the slabs do not know about: the
/// flusher empties the depot into the backend after the magazines (<see cref="DrainTo"/>), and
/// statistics count them as cached.</para>
/// <para>The backend is only ever called with <c>_lock</c> held by <see cref="DrainTo"/>, and never
/// calls back into a thread cache, so the lock order is depot, then the slab layer's locks.</para>
/// </remarks>
/// <typeparam name="T">The magazine item type.</typeparam>
internal sealed class MagazineDepot<T>
{
    private readonly Lock _lock = new();
    private readonly T[]?[] _full;
    private readonly T[]?[] _spare;
    private int _fullCount;
    private int _spareCount;
    private bool _closed;

    /// <param name="batchSize">Objects per batch: half a magazine.</param>
    /// <param name="maxBatches">Full batches held at most (at least 1).</param>
    internal MagazineDepot(int batchSize, int maxBatches)
    {
        BatchSize = batchSize;
        _full = new T[]?[Math.Max(1, maxBatches)];
        _spare = new T[]?[_full.Length];
    }

    /// <summary>Objects per batch.</summary>
    internal int BatchSize { get; }

    /// <summary>Full batches held at most.</summary>
    internal int MaxBatches => _full.Length;

    /// <summary>Objects held now (racy, for statistics).</summary>
    internal long CachedObjects => (long)Volatile.Read(ref _fullCount) * BatchSize;

    /// <summary>Keeps <paramref name="objects"/> (exactly <see cref="BatchSize"/> of them) as one batch, or returns false when the depot is full.</summary>
    internal bool TryPut(ReadOnlySpan<T> objects)
    {
        if (objects.Length != BatchSize)
        {
            return false;
        }

        lock (_lock)
        {
            if (_fullCount == _full.Length || _closed)
            {
                return false;
            }

            // At most _full.Length arrays are ever made: one per batch the depot can hold; after
            // that every batch reuses a spare.
            T[] batch = _spareCount > 0 ? _spare[--_spareCount]! : new T[BatchSize];
            _spare[_spareCount] = null;
            objects.CopyTo(batch);
            _full[_fullCount] = batch;
            Volatile.Write(ref _fullCount, _fullCount + 1);
            return true;
        }
    }

    /// <summary>Moves one batch into <paramref name="destination"/> (at least <see cref="BatchSize"/> long) and returns its count, or 0 when the depot is empty.</summary>
    internal int TryTake(Span<T> destination)
    {
        if (Volatile.Read(ref _fullCount) == 0 || destination.Length < BatchSize)
        {
            return 0;
        }

        lock (_lock)
        {
            if (_fullCount == 0)
            {
                return 0;
            }

            int last = _fullCount - 1;
            T[] batch = _full[last]!;
            _full[last] = null;
            Volatile.Write(ref _fullCount, last);
            batch.CopyTo(destination);
            Array.Clear(batch);
            _spare[_spareCount++] = batch;
            return batch.Length;
        }
    }

    /// <summary>
    /// Gives every batch back to <paramref name="backend"/>; returns the number of objects. With
    /// <paramref name="close"/> the depot takes no batch from then on (the allocator was disposed):
    /// decided under the lock, so no batch can arrive after this drain and stay unseen.
    /// </summary>
    internal int DrainTo(IMagazineBackend<T> backend, bool close = false)
    {
        if (Volatile.Read(ref _fullCount) == 0 && !close)
        {
            return 0;
        }

        int drained = 0;
        lock (_lock)
        {
            _closed |= close;
            while (_fullCount > 0)
            {
                // Out of the stack before the backend sees it: should the backend throw, the
                // batch is lost to the pool (a leak), never given back twice.
                int last = _fullCount - 1;
                T[] batch = _full[last]!;
                _full[last] = null;
                Volatile.Write(ref _fullCount, last);
                backend.Drain(batch);
                drained += batch.Length;
                Array.Clear(batch);
                _spare[_spareCount++] = batch;
            }
        }

        return drained;
    }
}
