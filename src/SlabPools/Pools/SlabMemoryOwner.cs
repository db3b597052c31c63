using System;
using System.Buffers;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Threading;
using SlabPools.Slabs;

namespace SlabPools.Pools;

/// <summary>
/// A buffer rented from <see cref="SlabMemoryPool"/>: a slot of a pinned managed slab. Owners are
/// made with their slab and reused; do not keep one after disposing it.
/// </summary>
public sealed class SlabMemoryOwner : IMemoryOwner<byte>, ISlotOwner
{
    private readonly Slab _slab;
    private readonly Memory<byte> _memory;
    private readonly nint _address;
    private readonly int _index;
    private bool _rented;

    // Set once by Link when the slot's owners are made (see SlotOwners).
    private OwnerLink<SlabMemoryOwner> _link;
    private byte _classIndex;

    internal SlabMemoryOwner(Slab slab, int index)
    {
        _slab = slab;
        _index = index;
        _address = slab.AddressOf(index);

        // Pre-pinned: the slab's array never moves (the slab layer works on its raw address), so
        // Memory.Pin() (sockets, file I/O) hands out the pointer without a pinning GC handle, as
        // Kestrel's own blocks do. The array starts at the slab's base.
        _memory = MemoryMarshal.CreateFromPinnedArray(slab.Block.Array, index * slab.Stride, slab.Cache.ObjectSize);
    }

    Slab ISlotOwner.Slab => _slab;

    int ISlotOwner.Index => _index;

    nint ISlotOwner.SlotAddress => _address;

    object ISlotOwner.NextOwner => _link.Next;

    void ISlotOwner.Link(object next, int hotId, int classIndex, int magazineId)
    {
        _link = new OwnerLink<SlabMemoryOwner>(next, hotId, magazineId);
        _classIndex = (byte)classIndex; // fewer than 256 classes (SizeClasses.CountConst)
    }

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

    /// <summary>
    /// Starts loading the first cache line of this owner's slot, where <see cref="RentFromCache"/>
    /// reads the free mark: called for the owner a magazine hands out next. Safe while the owner
    /// sits free in a magazine (its slab cannot be released while one of its slots is outside it),
    /// and a prefetch never faults anyway.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal void PrefetchSlot() => CacheLine.Prefetch(_address);

    /// <summary>Hands out this owner, taken from a hot tier or a magazine: its slot is free and should bear its mark.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal SlabMemoryOwner RentFromCache()
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
            SlabMemoryOwner? displaced = SlotPool<SlabMemoryOwner>.ReturnToHot(_address, _slab, _link, _classIndex, out HotState<SlabMemoryOwner>? hot);
            if (displaced is not null)
            {
                // The displaced owner held this pool's hot slot of this class, so its magazines are
                // this owner's: its own field is not read (in a burst its line is cold).
                SlotPool<SlabMemoryOwner>.PushToMagazine(hot!, _link.MagazineId, displaced);
            }

            return;
        }

        SlotPool<SlabMemoryOwner>.Return(_slab, _index, _address, _link.Next, _link.MagazineId);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void ReportWrittenAfterFree() => _slab.Cache.ReportWrittenAfterFree(_slab, _address);

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void ReportDoubleDispose() => OwnerErrors.DoubleDispose(_slab, _index, _address);

    private static void ThrowDisposed() => throw new ObjectDisposedException(nameof(SlabMemoryOwner), "The buffer was returned to its pool.");
}

/// <summary>Error reports shared by the owners of both memory pools.</summary>
internal static class OwnerErrors
{
    /// <remarks>
    /// The owner is not rented, so its slot may be free and its slab released at any moment (a
    /// stale owner outlives its slab): the slot's bytes are shown only when the slab is managed
    /// memory (its array stays alive with the slab object, whatever it holds now). A native slab's
    /// memory may be unmapped, even while this report is being written, and is never read here.
    /// </remarks>
    internal static void DoubleDispose(Slab slab, int index, nint address)
    {
        bool released = SlabState.IsDead(Volatile.Read(ref slab.State));
        slab.Cache.ReportDerived(
            SlabErrorKind.DoubleFree,
            slab,
            address,
            $"buffer owner of slot {index} disposed while it is not rented (disposed twice, or kept after its slot was rented again{(released ? "; its slab has been released since" : string.Empty)})",
            "dispose ignored; the buffer now rented from that slot, if any, is untouched",
            dumpMemory: slab.Block.Array is not null && !released);
    }
}
