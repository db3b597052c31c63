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

    /// <summary>Bytes a coloured cache puts between consecutive objects beyond their size: one cache line.</summary>
    internal const int ColourStep = 64;

    /// <summary>The largest object size that is coloured (see <see cref="Coloured"/>).</summary>
    internal const int MaxColouredObject = 16 * 1024;

    /// <summary>Bytes of a slab not covered by objects.</summary>
    internal int Waste => SlabBytes - (ObjectsPerSlab * Stride);

    /// <summary>
    /// Whether objects of <paramref name="objectSize"/> bytes (already aligned), in blocks aligned
    /// to <paramref name="blockAlignment"/> and asked to be aligned to <paramref name="alignment"/>,
    /// should be laid out by <see cref="Coloured"/>: whole pages of at most <see cref="MaxColouredObject"/>
    /// bytes in page-aligned blocks (native slabs), when a cache-line step keeps the alignment.
    /// </summary>
    internal static bool ShouldColour(int objectSize, int blockAlignment, int alignment)
    {
        int page = PageAllocator.PageSize;
        return objectSize % page == 0 && objectSize <= MaxColouredObject
            && blockAlignment % page == 0 && ColourStep % alignment == 0;
    }

    /// <summary>
    /// The slab colouring of the original slab allocator, for objects that are whole pages: they are
    /// <see cref="ColourStep"/> bytes further apart than their size, so object <c>k</c> of a slab
    /// starts <c>k</c> cache lines into its page instead of every object at offset 0.
    /// </summary>
    /// <remarks>
    /// <para>Why: in page-aligned native slabs every 4 KiB object would start at the same offset
    /// in a page, so the lines a pool touches in each free object (the free mark, and a caller's
    /// first bytes) all fall into the same 1/64 of a set-associative cache's sets: a burst of 512
    /// such objects asks 12 ways of one first-level set and 16 ways of 32 second-level sets to hold
    /// 512 lines. Pinned slabs do not have it (their arrays start wherever the GC put them).
    /// Measured on a 2-core Xeon (48 KiB 12-way L1, 2 MiB 16-way L2): reading and writing the mark of
    /// 512 such objects in turn, 12.5 ns per object page-aligned and 7 ns coloured; the
    /// NativeBufferPool's bursts of 512 (perf/ab.sh over 9 processes), a median 0.89x the time of
    /// the uncoloured layout, which leaves them about where the pinned pool's are.</para>
    /// <para>Cost: the objects per slab are chosen (at most <see cref="MaxSlabBytes"/>) to waste
    /// the least; for 4 KiB objects 31 in 32 pages, 3.2% more memory per object.</para>
    /// </remarks>
    internal static SlabGeometry Coloured(int objectSize)
    {
        int page = PageAllocator.PageSize;
        int stride = checked(objectSize + ColourStep);
        SlabGeometry best = default;
        long bestBytesPerObject = long.MaxValue;
        int firstPages = (int)((Math.Max(2L * stride, SlabMap.MinSlabBytes) + page - 1) / page);
        for (int pages = firstPages; pages <= Math.Max(firstPages, MaxSlabBytes / page); pages++)
        {
            int bytes = pages * page;
            int count = bytes / stride;
            // Bytes per object, scaled to compare without rounding: the fewest, then the fewest pages.
            long bytesPerObject = (long)bytes * 1024 / count;
            if (bytesPerObject < bestBytesPerObject)
            {
                best = new SlabGeometry(stride, count, bytes);
                bestBytesPerObject = bytesPerObject;
            }
        }

        return best;
    }

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
