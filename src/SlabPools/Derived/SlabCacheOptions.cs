using System;

namespace SlabPools;

/// <summary>Relocates a live object during defragmentation (see <see cref="SlabCache.Shrink(bool)"/>).</summary>
/// <param name="from">The object's current address; its bytes have already been copied to <paramref name="to"/>.</param>
/// <param name="to">The new address.</param>
/// <returns>
/// <see langword="true"/> once every reference to <paramref name="from"/> now points to
/// <paramref name="to"/> (the cache then frees <paramref name="from"/>); <see langword="false"/> to
/// refuse (the cache frees <paramref name="to"/> and the object stays where it was).
/// </returns>
public delegate bool SlabMoveCallback(nint from, nint to);

/// <summary>
/// How a cache made by <see cref="SlabAllocator.CreateCache(string, int, SlabCacheOptions?)"/> differs
/// from a plain one. Each option derives a new allocator from the plain Slabifier by changing some
/// of its methods (the seed's derived allocators); a cache with any of them, except
/// <see cref="Move"/>, leaves the lock-free fast path and is never merged with another cache.
/// </summary>
public sealed class SlabCacheOptions
{
    /// <summary>Native memory (the default), or pinned managed memory when <see langword="false"/>.</summary>
    public bool Native { get; init; } = true;

    /// <summary>Object alignment: a power of two from 8 to 4096 (4096 for O_DIRECT-style I/O). Above 8 the cache is native.</summary>
    public int Alignment { get; init; } = 8;

    /// <summary>Runs on every object when its slab is made; objects stay constructed while free.</summary>
    public Action<nint>? Constructor { get; init; }

    /// <summary>Runs on every object when its slab is released.</summary>
    public Action<nint>? Destructor { get; init; }

    /// <summary>Lets <see cref="SlabCache.Shrink(bool)"/> move live objects out of sparse slabs so they can be released.</summary>
    public SlabMoveCallback? Move { get; init; }

    /// <summary>
    /// Slabs are released only after a grace period of <see cref="SlabAllocator.Rcu"/>: a lock-free
    /// reader inside a read section never touches unmapped memory (objects may be reused, so readers
    /// must check what they read: the kernel's SLAB_TYPESAFE_BY_RCU).
    /// </summary>
    public bool TypesafeByRcu { get; init; }

    /// <summary>Freed objects are reused only after a grace period (implies <see cref="TypesafeByRcu"/>).</summary>
    public bool DeferReuseByRcu { get; init; }

    /// <summary>
    /// Whether a plain cache may be merged into a compatible existing cache (the default, as SLUB
    /// does to save memory). Set to <see langword="false"/> to get a cache of your own, with its own
    /// name and statistics.
    /// </summary>
    public bool AllowMerge { get; init; } = true;

    /// <summary>Debugging for this cache; <see langword="null"/> takes the allocator's <see cref="SlabPoolsOptions.Debug"/>.</summary>
    public SlabDebugFlags? Debug { get; init; }

    internal bool IsDerived(SlabDebugFlags debug) =>
        Constructor is not null || Destructor is not null || TypesafeByRcu || DeferReuseByRcu || debug != SlabDebugFlags.None;

    internal void Validate()
    {
        if (Alignment < 8 || Alignment > 4096 || (Alignment & (Alignment - 1)) != 0)
        {
            throw new ArgumentOutOfRangeException(nameof(Alignment), Alignment, "Alignment must be a power of two from 8 to 4096.");
        }

        if (Alignment > 8 && !Native)
        {
            throw new ArgumentException("Alignments above 8 bytes need native memory (pinned arrays are only 8-byte aligned).", nameof(Alignment));
        }

        if (Debug is { } d && (d & ~SlabDebugFlags.All) != 0)
        {
            throw new ArgumentOutOfRangeException(nameof(Debug), d, "Unknown debug flags.");
        }
    }
}
