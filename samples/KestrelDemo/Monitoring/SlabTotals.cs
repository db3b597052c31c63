using System.Collections.Generic;
using SlabPools;

namespace KestrelDemo.Monitoring;

/// <summary>Sums over every cache of one <see cref="SlabAllocator.GetInfo"/> snapshot.</summary>
/// <param name="ReservedBytes">Bytes the caches hold from their page allocators, free slabs included.</param>
/// <param name="ActiveBytes">Bytes handed out: active objects times object size.</param>
public readonly record struct SlabTotals(long ReservedBytes, long ActiveBytes)
{
    /// <summary>Adds up <paramref name="caches"/>.</summary>
    /// <param name="caches">A snapshot of the caches.</param>
    /// <returns>The totals.</returns>
    public static SlabTotals Of(IReadOnlyList<SlabCacheInfo> caches)
    {
        long reserved = 0, active = 0;
        foreach (SlabCacheInfo cache in caches)
        {
            reserved += cache.BytesReserved;
            active += cache.ActiveObjects * cache.ObjectSize;
        }

        return new SlabTotals(reserved, active);
    }

    /// <summary>Reads the allocator's caches now and adds them up.</summary>
    /// <param name="allocator">The allocator.</param>
    /// <returns>The totals.</returns>
    public static SlabTotals Of(SlabAllocator allocator) => Of(allocator.GetInfo());
}
