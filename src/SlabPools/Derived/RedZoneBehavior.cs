using System;
using SlabPools.Slabs;

namespace SlabPools.Derived;

/// <summary>
/// The red-zoning allocator: the bytes from the requested size to the end of the red zone behind the
/// object are filled with <see cref="Active"/> when the object is handed out and checked when it
/// comes back, catching writes past the end of a buffer written through a pointer.
/// </summary>
internal sealed class RedZoneBehavior : DerivedBehavior
{
    /// <summary>The red-zone pattern (the kernel's SLUB_RED_ACTIVE).</summary>
    internal const byte Active = 0xcc;

    /// <summary>Bytes of red zone behind every object.</summary>
    internal const int Size = 16;

    internal override unsafe void OnAllocate(SlabCache cache, Slab slab, int index, nint address, int requested)
    {
        int start = Math.Clamp(requested, 0, cache.ObjectSize);
        *(int*)(address + cache.RequestedOffset) = start;
        new Span<byte>((void*)(address + start), cache.RedZoneEnd - start).Fill(Active);
    }

    internal override unsafe void OnFree(SlabCache cache, Slab slab, int index, nint address)
    {
        int start = *(int*)(address + cache.RequestedOffset);
        if ((uint)start > (uint)cache.ObjectSize)
        {
            start = cache.ObjectSize; // the trailer itself was overwritten: check what we can
        }

        var zone = new Span<byte>((void*)(address + start), cache.RedZoneEnd - start);
        int bad = zone.IndexOfAnyExcept(Active);
        if (bad >= 0)
        {
            int last = zone.LastIndexOfAnyExcept(Active);
            cache.ReportDerived(
                SlabErrorKind.RedZoneOverwrite,
                slab,
                address,
                $"red zone of object 0x{address:x} overwritten: bytes {start + bad}..{start + last} past the requested {start} bytes",
                "red zone restored; the object is freed");
        }
    }
}
