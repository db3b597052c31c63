using System;
using System.Buffers;
using System.Runtime.CompilerServices;
using SlabPools.Slabs;

namespace SlabPools.Pools;

/// <summary>
/// A buffer rented from <see cref="SlabMemoryPool"/>: a slot of a pinned managed slab. Owners are
/// made with their slab and reused; do not keep one after disposing it.
/// </summary>
public sealed class SlabMemoryOwner : IMemoryOwner<byte>, ISlotOwner
{
    private readonly SlotGroup _group;
    private readonly Memory<byte> _memory;
    private readonly nint _address;
    private bool _rented;

    // Set once by Link when the slot's owners are made (see SlotGroup).
    private OwnerLink<SlabMemoryOwner> _link;

    internal SlabMemoryOwner(SlotGroup group)
    {
        _group = group;
        _address = group.Address;
        _memory = new Memory<byte>(group.Slab.Block.Array, group.Offset, group.Length);
    }

    SlotGroup ISlotOwner.Group => _group;

    int ISlotOwner.RingIndex => _link.RingIndex;

    void ISlotOwner.Link(object next, int ringIndex, int hotId, int classIndex) => _link = new OwnerLink<SlabMemoryOwner>(next, ringIndex, hotId, classIndex);

    /// <summary>The buffer: the whole slot, at least the size asked for. Pinned: its address never changes.</summary>
    /// <exception cref="ObjectDisposedException">This owner was disposed (and not rented again since).</exception>
    public Memory<byte> Memory
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get
        {
            if (!_rented)
            {
                ThrowDisposed();
            }

            return _memory;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal SlabMemoryOwner MarkRented()
    {
        _rented = true;
        return this;
    }

    /// <summary>Hands out this owner, taken from a hot tier: its slot is free and should bear its mark.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal SlabMemoryOwner RentFromHot()
    {
        if (!FreeCookie.IsMarked(_address))
        {
            ReportWrittenAfterFree();
        }

        FreeCookie.Wipe(_address);
        _rented = true;
        return this;
    }

    /// <summary>Gives the buffer back. A second Dispose is reported as a double free and otherwise ignored.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Dispose()
    {
        if (!_rented)
        {
            ReportDoubleDispose();
            return;
        }

        _rented = false;
        if (_link.HotId >= 0)
        {
            // A plain cache with a hot tier: the slot becomes free here and its next owner goes to
            // the thread's hot slot, the one it displaces (if any) down to the magazines.
            SlabMemoryOwner? displaced = SlotPool<SlabMemoryOwner>.ReturnToHot(_address, _group, _link, out MagazineBase?[]? table);
            if (displaced is not null)
            {
                SlotPool<SlabMemoryOwner>.PushToMagazine(table, displaced._group, displaced._link.RingIndex);
            }

            return;
        }

        SlotPool<SlabMemoryOwner>.Return(_group);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void ReportWrittenAfterFree() => _group.Cache.ReportWrittenAfterFree(_group.Slab, _address);

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void ReportDoubleDispose() => OwnerErrors.DoubleDispose(_group);

    private static void ThrowDisposed() => throw new ObjectDisposedException(nameof(SlabMemoryOwner), "The buffer was returned to its pool.");
}

/// <summary>Error reports shared by the owners of both memory pools.</summary>
internal static class OwnerErrors
{
    internal static void DoubleDispose(SlotGroup group) =>
        group.Cache.ReportDerived(
            SlabErrorKind.DoubleFree,
            group.Slab,
            group.Address,
            $"buffer owner of slot {group.Index} disposed while it is not rented (disposed twice, or kept after its slot was rented again)",
            "dispose ignored; the buffer now rented from that slot, if any, is untouched");
}
