using System;
using System.Collections.Generic;
using System.Diagnostics.Metrics;
using System.Threading;

namespace SlabPools.Extensions.Metrics;

/// <summary>
/// Keeps Kestrel's memory pool meter alive when SlabPools serves Kestrel: the meter
/// <c>Microsoft.AspNetCore.MemoryPool</c> with Kestrel's instrument names, units and meanings,
/// computed from the <c>pinned-&lt;size&gt;</c> caches of the shared
/// <see cref="SlabAllocator.MemoryPool"/> when a listener collects (nothing is counted on the rent
/// and return paths). Nothing is reported until <see cref="SlabMemoryPoolFactory.Create"/> has
/// made a pool.
/// </summary>
/// <remarks>
/// <para>Instruments (bytes):</para>
/// <list type="table">
/// <item><term><c>aspnetcore.memory_pool.pooled</c> (up-down)</term><description>bytes pooled and available
/// for reuse: free objects of the caches, (total - active) × object size.</description></item>
/// <item><term><c>aspnetcore.memory_pool.allocated</c> (counter)</term><description>bytes the pool has
/// allocated: slabs created × bytes per slab.</description></item>
/// <item><term><c>aspnetcore.memory_pool.evicted</c> (counter)</term><description>bytes the pool has released
/// (by the flusher or a shrink): slabs freed × bytes per slab.</description></item>
/// <item><term><c>aspnetcore.memory_pool.rented</c> (counter)</term><description>bytes rented: allocations ×
/// object size (a rent counts the whole buffer handed out, as Kestrel's pool does). The core does not
/// count allocations of caches with debugging on, so with <see cref="SlabPoolsOptions.Debug"/> set this
/// stays 0.</description></item>
/// </list>
/// <para>The pools a factory creates share their memory, so the figures cover the whole shared pool
/// (Pipelines and any other user of <see cref="SlabAllocator.MemoryPool"/> included) and carry the tag
/// <c>aspnetcore.memory_pool.owner</c> naming the owners that created pools (<c>kestrel</c>; several
/// are joined with commas). Allocated minus evicted is what the caches reserve; it exceeds pooled
/// plus rented-and-not-returned by the bytes at the ends of slabs that fit no object.</para>
/// <para>The meter has the version <c>slabpools</c>: that makes it a meter of its own (a meter factory
/// would otherwise hand back Kestrel's, whose instruments of the same names stay silent while
/// SlabPools serves), and tells who reports the figures.</para>
/// </remarks>
internal sealed class KestrelMemoryPoolMetrics : IDisposable
{
    internal const string MeterName = "Microsoft.AspNetCore.MemoryPool";
    internal const string MeterVersion = "slabpools";
    internal const string OwnerTag = "aspnetcore.memory_pool.owner";
    private const string CachePrefix = "pinned-";

    private readonly SlabMemoryPoolFactory _factory;
    private readonly bool _ownsMeter;

    // Protects _caches: what is remembered of each cache between collections.
    private readonly Lock _lock = new();
    private readonly Dictionary<string, CacheHistory> _caches = new(StringComparer.Ordinal);

    internal KestrelMemoryPoolMetrics(SlabMemoryPoolFactory factory, IMeterFactory? meterFactory)
    {
        _factory = factory;
        var options = new MeterOptions(MeterName) { Version = MeterVersion };
        _ownsMeter = meterFactory is null;
        Meter = meterFactory?.Create(options) ?? new Meter(options);
        Meter.CreateObservableUpDownCounter("aspnetcore.memory_pool.pooled", () => Observe(static t => t.Pooled), "By", "Number of bytes currently pooled and available for reuse.");
        Meter.CreateObservableCounter("aspnetcore.memory_pool.allocated", () => Observe(static t => t.Allocated), "By", "Total number of bytes allocated by the memory pool.");
        Meter.CreateObservableCounter("aspnetcore.memory_pool.evicted", () => Observe(static t => t.Evicted), "By", "Total number of bytes evicted from the memory pool.");
        Meter.CreateObservableCounter("aspnetcore.memory_pool.rented", () => Observe(static t => t.Rented), "By", "Total number of bytes rented from the memory pool.");
    }

    /// <summary>The meter (made by the container's meter factory when there is one).</summary>
    internal Meter Meter { get; }

    private Measurement<long>[] Observe(Func<Totals, long> select)
    {
        if (!_factory.HasCreatedPools)
        {
            return [];
        }

        long value = select(Sum());
        IReadOnlyList<string> owners = _factory.Owners;
        return owners.Count == 0
            ? [new Measurement<long>(value)]
            : [new Measurement<long>(value, new KeyValuePair<string, object?>(OwnerTag, string.Join(',', owners)))];
    }

    private Totals Sum()
    {
        long pooled = 0, allocated = 0, evicted = 0, rented = 0;
        lock (_lock)
        {
            foreach (SlabCacheInfo cache in _factory.Allocator.GetInfo())
            {
                if (cache.Memory != "pinned" || !cache.Name.StartsWith(CachePrefix, StringComparison.Ordinal))
                {
                    continue;
                }

                if (!_caches.TryGetValue(cache.Name, out CacheHistory? history))
                {
                    history = new CacheHistory();
                    _caches.Add(cache.Name, history);
                }

                long slabBytes = history.SlabBytes(cache);
                pooled += (cache.TotalObjects - cache.ActiveObjects) * cache.ObjectSize;
                allocated += cache.SlabsAllocated * slabBytes;
                evicted += cache.SlabsFreed * slabBytes;
                rented += history.Allocations(cache) * cache.ObjectSize;
            }
        }

        return new Totals(pooled, allocated, evicted, rented);
    }

    /// <summary>Disposes the meter if this object made it; a meter factory disposes its own meters.</summary>
    public void Dispose()
    {
        if (_ownsMeter)
        {
            Meter.Dispose();
        }
    }

    private readonly record struct Totals(long Pooled, long Allocated, long Evicted, long Rented);

    /// <summary>What is remembered of one cache between collections (used under the metrics' lock).</summary>
    private sealed class CacheHistory
    {
        private long _slabBytes;
        private long _lastAllocations;
        private long _lostAllocations;

        /// <summary>Bytes per slab: reserved bytes over slabs while the cache has slabs, remembered for when it has none.</summary>
        internal long SlabBytes(SlabCacheInfo cache)
        {
            if (cache.Slabs > 0)
            {
                _slabBytes = cache.BytesReserved / cache.Slabs;
            }

            // Never seen with slabs (all released before the first collection): objects per slab
            // times their size is what is known, short of the slab's unused tail.
            return _slabBytes > 0 ? _slabBytes : (long)cache.ObjectsPerSlab * cache.ObjectSize;
        }

        /// <summary>
        /// Allocations so far, never fewer than reported before. A cache's count drops when the
        /// per-thread caches of exited threads are dropped (their counts go with them); a drop seen
        /// between two collections is added back. Allocations made and dropped between the same two
        /// collections are not seen.
        /// </summary>
        internal long Allocations(SlabCacheInfo cache)
        {
            long now = cache.FastAllocations + cache.SlowAllocations;
            if (now < _lastAllocations)
            {
                _lostAllocations += _lastAllocations - now;
            }

            _lastAllocations = now;
            return now + _lostAllocations;
        }
    }
}
