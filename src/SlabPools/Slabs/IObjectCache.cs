namespace SlabPools.Slabs;

/// <summary>What the allocator, the flusher and the statistics need from any cache it owns.</summary>
internal interface IObjectCache
{
    string Name { get; }

    /// <summary>Counts calls into the slab layer (misses of the per-thread tier); the flusher disarms when it stops moving.</summary>
    long Activity { get; }

    long BytesReserved { get; }

    /// <summary>The flusher of this cache, attached by the allocator when it registers the cache.</summary>
    Reclaim.CacheFlusher? Flusher { get; set; }

    SlabCacheInfo GetInfo();

    /// <summary>The allocator was disposed: close the per-thread tier and release slabs as they empty.</summary>
    void Close();

    /// <summary>Returns idle per-thread magazines and per-CPU slabs to the slab layer.</summary>
    int FlushCpuAndThreadCaches();

    /// <summary>
    /// Releases empty slabs beyond <paramref name="keepEmptySlabs"/> per node; returns the bytes
    /// released. With <paramref name="agedOnly"/> (a busy cache's flusher tick) only slabs that have
    /// not been used since the previous aged pass go: what a cache at work needed during the last
    /// interval stays, so that a steady load does not release slabs only to make new ones (garbage,
    /// for managed slabs). <paramref name="managedBytes"/> is the part of what was released that
    /// only a GC gives back to the operating system: pinned slabs' arrays, pooled arrays, and the
    /// managed objects (buffer owners) that lived with the released slabs, native or not.
    /// </summary>
    long ShrinkCore(bool flushMagazines, int keepEmptySlabs, bool agedOnly, out long managedBytes);
}
