using System;
using System.Collections.Generic;
using System.Diagnostics.Metrics;

namespace SlabPools.Extensions.Metrics;

/// <summary>
/// The meter <c>SlabPools</c>: the state of every cache of one allocator, read from
/// <see cref="SlabAllocator.GetInfo"/> when a listener collects (nothing is counted on the rent
/// and return paths), and a counter of detected errors.
/// </summary>
/// <remarks>
/// Instruments (per-cache ones carry the tags <c>slabpools.cache.name</c>, for example
/// <c>pinned-4096</c>, and <c>slabpools.memory.type</c>: <c>native</c>, <c>pinned</c> or <c>managed</c>):
/// <list type="table">
/// <item><term><c>slabpools.memory.reserved</c> (By, up-down)</term><description>bytes a cache holds from its page allocator, free slabs included (<see cref="SlabCacheInfo.BytesReserved"/>).</description></item>
/// <item><term><c>slabpools.objects.active</c> ({object}, up-down)</term><description>objects handed out and not given back; free objects in per-thread or per-CPU caches are not active.</description></item>
/// <item><term><c>slabpools.objects.total</c> ({object}, up-down)</term><description>objects the cache's slabs hold, free or not.</description></item>
/// <item><term><c>slabpools.slabs.allocated</c> ({slab}, counter)</term><description>slabs created since the cache was made.</description></item>
/// <item><term><c>slabpools.slabs.freed</c> ({slab}, counter)</term><description>slabs released (memory given back) since the cache was made.</description></item>
/// <item><term><c>slabpools.errors</c> ({error}, counter)</term><description>errors detected, tagged <c>error.type</c>
/// (the <see cref="SlabErrorKind"/> name, for example <c>DoubleFree</c>) and <c>slabpools.cache.name</c>.</description></item>
/// <item><term><c>slabpools.gc.collections</c> ({collection}, counter)</term><description>full collections the allocator
/// asked the GC for after its flushers released managed memory (<see cref="SlabPoolsOptions.CollectAfterRelease"/>),
/// tagged <c>slabpools.collection.mode</c>: <c>Background</c> or <c>Aggressive</c> (<see cref="SlabPoolsOptions.CollectionMode"/>).</description></item>
/// </list>
/// </remarks>
internal sealed class SlabPoolsMetrics : IDisposable
{
    internal const string MeterName = "SlabPools";
    internal const string CacheNameTag = "slabpools.cache.name";
    internal const string MemoryTypeTag = "slabpools.memory.type";
    internal const string ErrorTypeTag = "error.type";
    internal const string CollectionModeTag = "slabpools.collection.mode";

    private readonly SlabAllocator _allocator;
    private readonly bool _ownsMeter;
    private readonly Counter<long> _errors;

    internal SlabPoolsMetrics(SlabAllocator allocator, IMeterFactory? meterFactory)
    {
        _allocator = allocator;
        var options = new MeterOptions(MeterName);
        _ownsMeter = meterFactory is null;
        Meter = meterFactory?.Create(options) ?? new Meter(options);
        Meter.CreateObservableUpDownCounter("slabpools.memory.reserved", () => Observe(static c => c.BytesReserved), "By", "Bytes a cache holds from its page allocator, free slabs included.");
        Meter.CreateObservableUpDownCounter("slabpools.objects.active", () => Observe(static c => c.ActiveObjects), "{object}", "Objects handed out and not yet given back.");
        Meter.CreateObservableUpDownCounter("slabpools.objects.total", () => Observe(static c => c.TotalObjects), "{object}", "Objects held by a cache's slabs, free or not.");
        Meter.CreateObservableCounter("slabpools.slabs.allocated", () => Observe(static c => c.SlabsAllocated), "{slab}", "Slabs created since the cache was made.");
        Meter.CreateObservableCounter("slabpools.slabs.freed", () => Observe(static c => c.SlabsFreed), "{slab}", "Slabs released since the cache was made.");
        _errors = Meter.CreateCounter<long>("slabpools.errors", "{error}", "Errors detected (double free, use after free, red-zone overwrite, foreign object).");
        Meter.CreateObservableCounter(
            "slabpools.gc.collections",
            () => new Measurement<long>(_allocator.InducedCollections, new KeyValuePair<string, object?>(CollectionModeTag, ModeName(_allocator.Options.CollectionMode))),
            "{collection}",
            "Full collections asked for after the flushers released managed memory.");
    }

    private static string ModeName(SlabCollectionMode mode) => mode == SlabCollectionMode.Aggressive ? nameof(SlabCollectionMode.Aggressive) : nameof(SlabCollectionMode.Background);

    /// <summary>The meter (made by the container's meter factory when there is one).</summary>
    internal Meter Meter { get; }

    internal void CountError(SlabErrorEventArgs e) =>
        _errors.Add(1, new KeyValuePair<string, object?>(ErrorTypeTag, KindName(e.Kind)), new KeyValuePair<string, object?>(CacheNameTag, e.CacheName));

    private static string KindName(SlabErrorKind kind) => kind switch
    {
        SlabErrorKind.DoubleFree => nameof(SlabErrorKind.DoubleFree),
        SlabErrorKind.UseAfterFree => nameof(SlabErrorKind.UseAfterFree),
        SlabErrorKind.RedZoneOverwrite => nameof(SlabErrorKind.RedZoneOverwrite),
        SlabErrorKind.ForeignObject => nameof(SlabErrorKind.ForeignObject),
        _ => kind.ToString(),
    };

    private List<Measurement<long>> Observe(Func<SlabCacheInfo, long> select)
    {
        IReadOnlyList<SlabCacheInfo> caches = _allocator.GetInfo();
        var measurements = new List<Measurement<long>>(caches.Count);
        foreach (SlabCacheInfo cache in caches)
        {
            measurements.Add(new Measurement<long>(
                select(cache),
                new KeyValuePair<string, object?>(CacheNameTag, cache.Name),
                new KeyValuePair<string, object?>(MemoryTypeTag, cache.Memory)));
        }

        return measurements;
    }

    /// <summary>Disposes the meter if this object made it; a meter factory disposes its own meters.</summary>
    public void Dispose()
    {
        if (_ownsMeter)
        {
            Meter.Dispose();
        }
    }
}
