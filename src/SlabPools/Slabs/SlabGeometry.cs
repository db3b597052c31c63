using System;
using SlabPools.Pages;

namespace SlabPools.Slabs;

/// <summary>How a cache lays out its slabs: the object stride, objects per slab and slab length.</summary>
internal readonly record struct SlabGeometry(int Stride, int ObjectsPerSlab, int SlabBytes)
{
    /// <summary>Objects above this size get a slab of their own (no free list to manage).</summary>
    internal const int SingleObjectThreshold = 64 * 1024;

    // Small objects: 16 per slab (64 KiB slabs for Kestrel's 4 KiB blocks). Larger ones: 8 per slab,
    // and slabs of at most 128 KiB, so that a CPU's half-used active slab of a rarely used large
    // class does not hold much memory.
    private const int TargetObjects = 16;
    private const int TargetObjectsLarge = 8;
    private const int LargeObject = 4096;
    private const int MaxSlabBytes = 128 * 1024;

    /// <summary>Bytes of a slab not covered by objects.</summary>
    internal int Waste => SlabBytes - (ObjectsPerSlab * Stride);

    /// <summary>
    /// Picks the slab length for objects <paramref name="objectSize"/> bytes apart: at least
    /// <see cref="SlabMap.MinSlabBytes"/>, aiming at 16 objects per slab (8 above 4 KiB) but at most 128 KiB, in
    /// whole pages, choosing among nearby page counts the one that wastes the least.
    /// </summary>
    internal static SlabGeometry For(int objectSize)
    {
        if (objectSize < FreeCookie.MinObjectSize)
        {
            throw new ArgumentOutOfRangeException(nameof(objectSize), objectSize, $"Objects must be at least {FreeCookie.MinObjectSize} bytes.");
        }

        int page = PageAllocator.PageSize;
        if (objectSize > SingleObjectThreshold)
        {
            int bytes = checked((objectSize + page - 1) / page * page);
            return new SlabGeometry(objectSize, 1, bytes);
        }

        int objects = objectSize > LargeObject ? TargetObjectsLarge : TargetObjects;
        long target = Math.Clamp((long)objectSize * objects, SlabMap.MinSlabBytes, MaxSlabBytes);
        int firstPages = (int)((Math.Max(target, objectSize) + page - 1) / page);
        SlabGeometry best = default;
        double bestWaste = double.MaxValue;
        for (int pages = firstPages; pages < firstPages + 8; pages++)
        {
            int bytes = pages * page;
            int count = Math.Min(bytes / objectSize, SlabState.MaxObjects);
            double waste = (bytes - ((double)count * objectSize)) / bytes;
            if (waste < bestWaste - 1e-9)
            {
                best = new SlabGeometry(objectSize, count, bytes);
                bestWaste = waste;
            }
        }

        return best;
    }
}
