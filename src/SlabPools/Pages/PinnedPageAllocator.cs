using System;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace SlabPools.Pages;

/// <summary>
/// Pages from the pinned object heap: a block is a pinned <see cref="T:byte[]"/> whose address never
/// changes, so slabs carved from it can be handed out as <see cref="Memory{T}"/> and as pointers.
/// </summary>
/// <remarks>
/// Freeing a block drops the array; the GC gives the memory back to the operating system on its own
/// schedule. Use <see cref="NativePageAllocator"/> where memory must go back to the OS at once.
/// </remarks>
public sealed class PinnedPageAllocator : PageAllocator
{
    /// <summary>The shared instance; the allocator has no state of its own beyond counters.</summary>
    public static PinnedPageAllocator Shared { get; } = new();

    /// <inheritdoc/>
    public override string Name => "pinned";

    /// <inheritdoc/>
    public override bool IsNative => false;

    /// <inheritdoc/>
    public override int BlockAlignment => IntPtr.Size * 2;

    /// <inheritdoc/>
    protected override unsafe PageBlock AllocateCore(nuint bytes, int node)
    {
        if (bytes > (nuint)Array.MaxLength)
        {
            return ThrowOutOfMemory(Name, bytes, "larger than the largest array");
        }

        byte[] array;
        try
        {
            array = GC.AllocateUninitializedArray<byte>((int)bytes, pinned: true);
        }
        catch (OutOfMemoryException)
        {
            return ThrowOutOfMemory(Name, bytes, "the GC heap is exhausted");
        }

        // The array is on the pinned object heap: its address is fixed for its whole life, which the
        // returned block (holding the array) outlives.
        nint address = (nint)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(array));
        return new PageBlock(address, bytes, array);
    }

    /// <inheritdoc/>
    protected override void FreeCore(in PageBlock block)
    {
        // Nothing to do: the block held the only reference to the array.
    }
}
