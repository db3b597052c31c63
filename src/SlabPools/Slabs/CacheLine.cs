using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics.X86;

namespace SlabPools.Slabs;

/// <summary>Hints to the processor's caches.</summary>
internal static class CacheLine
{
    /// <summary>
    /// Asks the processor to bring the cache line holding <paramref name="address"/> into all its
    /// cache levels ahead of use (<c>prefetcht0</c>). A hint only: it never faults (an address that is
    /// not mapped is ignored), changes nothing the program can observe, and does nothing where .NET
    /// exposes no prefetch instruction (Arm64).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static unsafe void Prefetch(nint address)
    {
        if (Sse.IsSupported)
        {
            Sse.Prefetch0((void*)address);
        }
    }
}
