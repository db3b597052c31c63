using System;
using System.Buffers;
using System.Runtime.CompilerServices;

namespace SlabPools.Pools;

/// <summary>
/// A buffer rented from <see cref="NativeBufferPool"/>: a slot of a native slab, outside the GC
/// heap. <see cref="Pin"/> gives its fixed address at no cost (nothing needs pinning).
/// </summary>
public sealed unsafe class NativeMemoryOwner : MemoryManager<byte>
{
    private readonly SlotGroup _group;
    private readonly byte* _address;
    private readonly int _length;
    private bool _rented;

    internal NativeMemoryOwner(SlotGroup group)
    {
        _group = group;
        _address = (byte*)group.Address;
        _length = group.Length;
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

    /// <summary>Gives the buffer back. A second Dispose is reported as a double free and otherwise ignored.</summary>
    protected override void Dispose(bool disposing)
    {
        if (!_rented)
        {
            OwnerErrors.DoubleDispose(_group);
            return;
        }

        _rented = false;
        SlotPool<NativeMemoryOwner>.Return(_group);
    }

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
