using System;

namespace SlabPools;

/// <summary>
/// Debugging features of a slab cache (the seed's debugging allocator, derived from the plain one).
/// With <see cref="None"/> the fast path pays nothing for any of them.
/// </summary>
[Flags]
public enum SlabDebugFlags
{
    /// <summary>No debugging: only the cheap double-free check of the free path.</summary>
    None = 0,

    /// <summary>Full checks on every free: foreign or misaligned objects, double frees proven against the slab's state.</summary>
    ConsistencyChecks = 1,

    /// <summary>Bytes past the requested size are filled with a pattern and checked when the object comes back.</summary>
    RedZone = 2,

    /// <summary>Free objects are filled with a pattern that is checked at the next allocation (a write after return is reported).</summary>
    Poison = 4,

    /// <summary>Stack traces of the last allocation and free of each object go into reports.</summary>
    Track = 8,

    /// <summary>Every debugging feature.</summary>
    All = ConsistencyChecks | RedZone | Poison | Track,
}
