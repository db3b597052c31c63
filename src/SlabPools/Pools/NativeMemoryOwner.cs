using System;
using System.Buffers;
using System.Runtime.CompilerServices;
using SlabPools.Slabs;

namespace SlabPools.Pools;

/// <summary>
/// A buffer rented from <see cref="NativeBufferPool"/>: a slot of a native slab, outside the GC
/// heap. <see cref="Pin"/> gives its fixed address at no cost (nothing needs pinning).
/// </summary>
public sealed unsafe class NativeMemoryOwner : MemoryManager<byte>, ISlotOwner, IDisposable
{
    private readonly Slab _slab;
    private readonly byte* _address;
    private readonly int _length;
    private readonly int _index;
    private bool _rented;

    // Set once by Link when the slot's owners are made (see SlotOwners).
    private OwnerLink<NativeMemoryOwner> _link;
    private byte _classIndex;

    internal NativeMemoryOwner(Slab slab, int index)
    {
        _slab = slab;
        _index = index;
        _address = (byte*)slab.AddressOf(index);
        _length = slab.Cache.ObjectSize;
    }

    Slab ISlotOwner.Slab => _slab;

    int ISlotOwner.Index => _index;

    nint ISlotOwner.SlotAddress => (nint)_address;

    object ISlotOwner.NextOwner => _link.Next;

    void ISlotOwner.Link(object next, int hotId, int classIndex, int magazineId)
    {
        _link = new OwnerLink<NativeMemoryOwner>(next, hotId, magazineId);
        _classIndex = (byte)classIndex; // fewer than 256 classes (SizeClasses.CountConst)
    }

    /// <summary>The buffer's address, valid until the owner is disposed.</summary>
    /// <exception cref="ObjectDisposedException">This owner was disposed.</exception>
    public nint Address
    {
        get
        {
            ThrowIfNotRented();
            return (nint)_address;
        }
    }

    /// <summary>The buffer's length: the whole slot, at least the size asked for.</summary>
    public int Length => _length;

    /// <summary>The buffer as <see cref="Memory{T}"/>: the whole slot, at least the size asked for.</summary>
    /// <exception cref="ObjectDisposedException">This owner was disposed.</exception>
    /// <remarks>
    /// Overridden: the base class makes it from <see cref="GetSpan"/>'s length, a virtual call and a
    /// span for a length this owner has in a field.
    /// </remarks>
    public override Memory<byte> Memory
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get
        {
            ThrowIfNotRented();
            return CreateMemory(_length);
        }
    }

    /// <inheritdoc/>
    /// <exception cref="ObjectDisposedException">This owner was disposed.</exception>
    public override Span<byte> GetSpan()
    {
        ThrowIfNotRented();
        return new Span<byte>(_address, _length);
    }

    /// <inheritdoc/>
    /// <exception cref="ObjectDisposedException">This owner was disposed.</exception>
    public override MemoryHandle Pin(int elementIndex = 0)
    {
        ThrowIfNotRented();
        if ((uint)elementIndex > (uint)_length)
        {
            throw new ArgumentOutOfRangeException(nameof(elementIndex));
        }

        // Native memory never moves: the handle needs no GC handle and no pinnable to unpin.
        return new MemoryHandle(_address + elementIndex);
    }

    /// <inheritdoc/>
    public override void Unpin()
    {
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal NativeMemoryOwner MarkRented()
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
    internal void PrefetchSlot() => CacheLine.Prefetch((nint)_address);

    /// <summary>Hands out this owner, taken from a hot tier or a magazine: its slot is free and should bear its mark.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal NativeMemoryOwner RentFromCache()
    {
        if (!FreeCookie.IsMarked((nint)_address))
        {
            ReportWrittenAfterFree();
        }

        FreeCookie.Wipe((nint)_address);
        _rented = true;
        return this;
    }

    /// <summary>
    /// Gives the buffer back. A second Dispose is reported as a double free and otherwise ignored.
    /// (Re-implements <see cref="IDisposable.Dispose"/>: the owner has no finalizer, so the base
    /// class's <see cref="GC.SuppressFinalize"/> call is skipped.)
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Dispose()
    {
        if (!_rented)
        {
            OwnerErrors.DoubleDispose(_slab, _index, (nint)_address);
            return;
        }

        _rented = false;
        if (_link.HotId >= 0)
        {
            // As SlabMemoryOwner.Dispose: the slot becomes free, its next owner goes to the hot slot.
            NativeMemoryOwner? displaced = SlotPool<NativeMemoryOwner>.ReturnToHot((nint)_address, _slab, _link, _classIndex, out HotState<NativeMemoryOwner>? hot);
            if (displaced is not null)
            {
                // The displaced owner held this pool's hot slot of this class, so its magazines are
                // this owner's: its own field is not read (in a burst its line is cold).
                SlotPool<NativeMemoryOwner>.PushToMagazine(hot!, _link.MagazineId, displaced);
            }

            return;
        }

        SlotPool<NativeMemoryOwner>.Return(_slab, _index, (nint)_address, _link.Next, _link.MagazineId);
    }

    /// <inheritdoc/>
    protected override void Dispose(bool disposing) => Dispose();

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void ReportWrittenAfterFree() => _slab.Cache.ReportWrittenAfterFree(_slab, (nint)_address);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void ThrowIfNotRented()
    {
        if (!_rented)
        {
            ThrowDisposed();
        }
    }

    private static void ThrowDisposed() => throw new ObjectDisposedException(nameof(NativeMemoryOwner), "The buffer was returned to its pool.");
}
