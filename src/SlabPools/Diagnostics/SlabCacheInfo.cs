using System.Collections.Generic;

namespace SlabPools;

/// <summary>
/// One row of <see cref="SlabAllocator.GetInfo"/>: a snapshot of a cache's counts. Counts are read
/// without stopping other threads, so under concurrent use they are approximate; when the cache is
/// quiet they are exact.
/// </summary>
public sealed class SlabCacheInfo
{
    /// <summary>The cache's name, for example <c>kmalloc-192</c>.</summary>
    public required string Name { get; init; }

    /// <summary>Bytes per object.</summary>
    public required int ObjectSize { get; init; }

    /// <summary>Objects handed out and not yet given back. Objects held free in per-CPU or per-thread caches are not active.</summary>
    public required long ActiveObjects { get; init; }

    /// <summary>Objects in all slabs of the cache (<see cref="Slabs"/> × <see cref="ObjectsPerSlab"/>).</summary>
    public required long TotalObjects { get; init; }

    /// <summary>Objects carved from one slab.</summary>
    public required int ObjectsPerSlab { get; init; }

    /// <summary>Slabs the cache holds, free ones included.</summary>
    public required long Slabs { get; init; }

    /// <summary>Slabs on the per-node partial lists (neither full nor owned by a CPU).</summary>
    public required long PartialSlabs { get; init; }

    /// <summary>Every byte the cache holds from its page allocator, free slabs included.</summary>
    public required long BytesReserved { get; init; }

    /// <summary>The kind of memory: <c>native</c>, <c>pinned</c> or <c>managed</c> (arrays).</summary>
    public string Memory { get; init; } = "native";

    /// <summary>Other names that resolve to this cache (merged caches).</summary>
    public IReadOnlyList<string> Aliases { get; init; } = [];

    /// <summary>Allocations served by a per-thread cache (no atomic operation).</summary>
    public long FastAllocations { get; init; }

    /// <summary>Allocations that had to refill from the slab layer.</summary>
    public long SlowAllocations { get; init; }

    /// <summary>Slabs created since the cache was made.</summary>
    public long SlabsAllocated { get; init; }

    /// <summary>Slabs released since the cache was made.</summary>
    public long SlabsFreed { get; init; }

    /// <summary>Errors detected (all kinds) in this cache.</summary>
    public long Errors { get; init; }

    /// <summary>Share of allocations served by the per-thread tier, 0..1 (1 when nothing was allocated).</summary>
    public double HitRate => FastAllocations + SlowAllocations == 0 ? 1.0 : (double)FastAllocations / (FastAllocations + SlowAllocations);
}
