namespace SlabPools.Slabs;

/// <summary>What the allocator, the flusher and the statistics need from any cache it owns.</summary>
internal interface IObjectCache
{
    string Name { get; }

    /// <summary>Counts calls into the slab layer (misses of the per-thread tier); the flusher disarms when it stops moving.</summary>
    long Activity { get; }

    long BytesReserved { get; }

    /// <summary>True when released memory goes to the GC (pinned slabs, arrays), not straight back to the operating system.</summary>
    bool ManagedMemory { get; }

    /// <summary>The flusher of this cache, attached by the allocator when it registers the cache.</summary>
    Reclaim.CacheFlusher? Flusher { get; set; }

    SlabCacheInfo GetInfo();

    /// <summary>The allocator was disposed: close the per-thread tier and release slabs as they empty.</summary>
    void Close();

    /// <summary>Returns idle per-thread magazines and per-CPU slabs to the slab layer.</summary>
    int FlushCpuAndThreadCaches();

    /// <summary>Releases empty slabs beyond <paramref name="keepEmptySlabs"/> per node; returns the bytes released.</summary>
    long ShrinkCore(bool flushMagazines, int keepEmptySlabs);
}
