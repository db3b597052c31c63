using System;
using System.Runtime.InteropServices;

namespace SlabPools.Pages;

/// <summary>
/// Pages outside the GC heap. On Linux and macOS each block is its own anonymous mapping
/// (<c>mmap</c>), so <see cref="PageAllocator.Free"/> gives the memory back to the operating system
/// at once (<c>munmap</c>); elsewhere it uses <see cref="NativeMemory.AlignedAlloc"/>.
/// </summary>
public sealed class NativePageAllocator : PageAllocator
{
    private static readonly bool s_useMmap = OperatingSystem.IsLinux() || OperatingSystem.IsMacOS() || OperatingSystem.IsFreeBSD();

    /// <summary>The shared instance; the allocator has no state of its own beyond counters.</summary>
    public static NativePageAllocator Shared { get; } = new();

    /// <inheritdoc/>
    public override string Name => "native";

    /// <inheritdoc/>
    public override bool IsNative => true;

    /// <inheritdoc/>
    public override int BlockAlignment => PageSize;

    /// <summary>Rounds a length up to whole pages.</summary>
    internal static nuint RoundToPages(nuint bytes) => (bytes + (nuint)PageSize - 1) & ~(nuint)(PageSize - 1);

    /// <inheritdoc/>
    protected override unsafe PageBlock AllocateCore(nuint bytes, int node)
    {
        nuint length = RoundToPages(bytes);
        if (s_useMmap)
        {
            nint p = Libc.MapAnonymous(length);
            if (p == 0)
            {
                return ThrowOutOfMemory(Name, length, "mmap failed");
            }

            return new PageBlock(p, length);
        }

        void* q = NativeMemory.AlignedAlloc(length, (nuint)PageSize);
        if (q == null)
        {
            return ThrowOutOfMemory(Name, length, "the native heap is exhausted");
        }

        return new PageBlock((nint)q, length);
    }

    /// <inheritdoc/>
    protected override unsafe void FreeCore(in PageBlock block)
    {
        if (s_useMmap)
        {
            Libc.Unmap(block.Address, block.Length);
        }
        else
        {
            NativeMemory.AlignedFree((void*)block.Address);
        }
    }
}
