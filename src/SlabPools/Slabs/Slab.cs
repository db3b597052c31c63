using System.Runtime.CompilerServices;
using SlabPools.Pages;

namespace SlabPools.Slabs;

/// <summary>
/// One slab: a page block carved into <see cref="Capacity"/> objects of one size. This object is
/// the equivalent of the kernel's <c>struct page</c> for a slab; nothing about the slab is stored
/// inside the slab's memory except the free list, which is threaded through the free objects of
/// small-object caches (bytes 0..3 of each) and kept in <see cref="Links"/> for large ones.
/// </summary>
/// <remarks>
/// Invariant (on the state word): <c>FreeCount(State) == length of the list starting at Head(State)</c>,
/// and <c>Capacity - FreeCount(State)</c> objects are outside the slab (handed out, or held free in a
/// per-thread cache). Field ownership is listed in the header of <see cref="SlabCache"/>.
/// </remarks>
internal sealed class Slab
{
    internal readonly SlabCache Cache;
    internal readonly PageBlock Block;
    internal readonly nint Base;
    internal readonly int Capacity;
    /// <summary>Bytes from one object to the next: the object and, in derived caches, its trailer.</summary>
    internal readonly int Stride;
    internal readonly int Node;

    /// <summary>
    /// Per-slot objects made by the cache's slot constructor, or null. For the memory pools, each
    /// entry is the slot's next owner: written by whoever gives the slot back to the slab, read by
    /// whoever takes it from the slab (the free list's compare-and-swap orders the two).
    /// </summary>
    internal readonly object?[]? Slots;

    /// <summary>
    /// The free list's links, one per object (the next free object's index), when the cache keeps
    /// them outside the objects (<see cref="SlabCache"/>'s side links: objects of 1 KiB and more);
    /// null when they are bytes 0..3 of each free object. Guarded as those bytes are: by whoever
    /// owns the chain (the slab through <see cref="State"/>, or the thread that took it).
    /// </summary>
    internal readonly int[]? Links;

    /// <summary>The packed state word (<see cref="SlabState"/>); changed only by compare-and-swap.</summary>
    internal long State;

    // Guarded by the node's partial-list lock.
    internal Slab? Prev;
    internal Slab? Next;
    internal bool OnPartial;

    /// <summary>Times the slab was taken off its partial list to be allocated from (guarded by the node's lock).</summary>
    internal int Takes;

    /// <summary>
    /// <see cref="Takes"/> as an aged shrink found the slab empty (guarded by the node's lock; -1:
    /// not seen empty). Still equal at the next aged shrink: nobody allocated from the slab for a
    /// whole interval, so a busy cache can release it (see <see cref="SlabCache"/>'s ShrinkCore).
    /// </summary>
    internal int EmptyAtTakes = -1;

    // Guarded by the cache's slab-registry lock.
    internal int RegistryIndex;

    /// <summary>
    /// Managed bytes that live and die with this slab: its array when its pages are managed, and the
    /// per-slot objects (the memory pools' owners) made for it, native slab or not. Set once by the
    /// thread that makes the slab, before the slab is published; the flusher counts it as memory
    /// only a GC gives back once the slab is released (<see cref="SlabPoolsOptions.CollectAfterRelease"/>).
    /// </summary>
    internal long ManagedBytes;

    internal Slab(SlabCache cache, in PageBlock block, int capacity, int stride, int node, object?[]? slots, int[]? links = null)
    {
        Links = links;
        Cache = cache;
        Block = block;
        Base = block.Address;
        Capacity = capacity;
        Stride = stride;
        Node = node;
        Slots = slots;
    }

    /// <summary>Bytes covered by objects (the block may be longer because of page rounding).</summary>
    internal nint Span => (nint)Capacity * Stride;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal nint AddressOf(int index) => Base + (nint)index * Stride;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal bool Contains(nint address) => (nuint)(address - Base) < (nuint)Span;

    /// <summary>The index of the object at <paramref name="address"/>, or -1 when it is not the start of an object.</summary>
    internal int IndexOf(nint address)
    {
        nuint offset = (nuint)(address - Base);
        if (offset >= (nuint)Span)
        {
            return -1;
        }

        nuint index = offset / (nuint)Stride;
        return index * (nuint)Stride == offset ? (int)index : -1;
    }
}
