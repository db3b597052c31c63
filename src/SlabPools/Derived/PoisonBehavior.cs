using System;
using SlabPools.Slabs;

namespace SlabPools.Derived;

/// <summary>
/// The poisoning allocator: free objects are filled with <see cref="Free"/> bytes, checked when the
/// object is handed out again; any other byte means the object was written after it was freed.
/// </summary>
internal sealed class PoisonBehavior : DerivedBehavior
{
    /// <summary>The pattern of free objects (the kernel's POISON_FREE).</summary>
    internal const byte Free = 0x6b;

    internal override unsafe void OnSlabCreated(SlabCache cache, Slab slab)
    {
        for (int i = 0; i < slab.Capacity; i++)
        {
            new Span<byte>((void*)slab.AddressOf(i), cache.ObjectSize).Fill(Free);
        }
    }

    internal override unsafe void OnAllocate(SlabCache cache, Slab slab, int index, nint address, int requested)
    {
        var bytes = new Span<byte>((void*)address, cache.ObjectSize);
        int bad = bytes.IndexOfAnyExcept(Free);
        if (bad >= 0)
        {
            int last = bytes.LastIndexOfAnyExcept(Free);
            cache.ReportDerived(
                SlabErrorKind.UseAfterFree,
                slab,
                address,
                $"poison overwritten in free object 0x{address:x}: bytes {bad}..{last} changed after it was freed (first byte 0x{bytes[bad]:x2}, expected 0x{Free:x2})",
                "object handed out anyway; its contents are unspecified as always");
        }
    }

    internal override unsafe void OnFree(SlabCache cache, Slab slab, int index, nint address) =>
        new Span<byte>((void*)address, cache.ObjectSize).Fill(Free);
}
