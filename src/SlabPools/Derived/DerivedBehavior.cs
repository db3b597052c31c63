using System.Collections.Generic;
using System.Text;
using SlabPools.Slabs;

namespace SlabPools.Derived;

/// <summary>
/// The methods of a slab cache that a derived allocator changes. A plain cache has none and keeps
/// the lock-free fast path; a derived cache runs every allocation through its behaviours in order,
/// and every free in the reverse order, under the cache's derived-path lock.
/// </summary>
/// <remarks>
/// Layout of an object of a derived cache (<c>size8</c> is the object size rounded up to 8):
/// <code>
///  [0, size)              the object
///  [size, size8 + rz)     red zone: pattern bytes, checked on free (rz = 16 with RedZone, else 0)
///  [t, t + 4)             free-list link while the object is free
///  [t + 4, t + 8)         requested size while it is handed out (the red zone starts there)
///  [t + 8, t + 16)        free mark while it is free
/// </code>
/// so that constructed state, poison patterns and what RCU readers read survive while the object
/// is free.
/// </remarks>
internal abstract class DerivedBehavior
{
    /// <summary>A new slab: its objects are free and marked.</summary>
    internal virtual void OnSlabCreated(SlabCache cache, Slab slab)
    {
    }

    /// <summary>A slab is about to be released.</summary>
    internal virtual void OnSlabReleasing(SlabCache cache, Slab slab)
    {
    }

    /// <summary>An object is about to be handed out.</summary>
    internal virtual void OnAllocate(SlabCache cache, Slab slab, int index, nint address, int requested)
    {
    }

    /// <summary>An object comes back (after the double-free checks).</summary>
    internal virtual void OnFree(SlabCache cache, Slab slab, int index, nint address)
    {
    }

    /// <summary>Adds INFO lines about an object to a report.</summary>
    internal virtual void Describe(nint address, StringBuilder info)
    {
    }
}

/// <summary>
/// Several behaviours: applied in order when an object is handed out and in the reverse order when
/// it comes back, so that each behaviour's free hook sees the object as that behaviour left it: the
/// red zone, which starts at the requested size inside the object, is checked before poisoning
/// fills the whole object, as poison is checked before the red zone is written.
/// </summary>
internal sealed class CompositeBehavior(IReadOnlyList<DerivedBehavior> parts) : DerivedBehavior
{
    internal IReadOnlyList<DerivedBehavior> Parts => parts;

    internal override void OnSlabCreated(SlabCache cache, Slab slab)
    {
        foreach (DerivedBehavior b in parts)
        {
            b.OnSlabCreated(cache, slab);
        }
    }

    internal override void OnSlabReleasing(SlabCache cache, Slab slab)
    {
        foreach (DerivedBehavior b in parts)
        {
            b.OnSlabReleasing(cache, slab);
        }
    }

    internal override void OnAllocate(SlabCache cache, Slab slab, int index, nint address, int requested)
    {
        foreach (DerivedBehavior b in parts)
        {
            b.OnAllocate(cache, slab, index, address, requested);
        }
    }

    internal override void OnFree(SlabCache cache, Slab slab, int index, nint address)
    {
        for (int i = parts.Count - 1; i >= 0; i--)
        {
            parts[i].OnFree(cache, slab, index, address);
        }
    }

    internal override void Describe(nint address, StringBuilder info)
    {
        foreach (DerivedBehavior b in parts)
        {
            b.Describe(address, info);
        }
    }
}
