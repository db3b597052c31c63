using System.Runtime.CompilerServices;

namespace SlabPools.Slabs;

/// <summary>
/// The packed state word of a slab, changed only by compare-and-swap so that allocation and free
/// on a slab need no lock.
/// <code>
///  bits  0..19  free count    objects on the slab's own free list
///  bits 20..39  free head     index of the first free object, or None (0xFFFFF)
///  bit  40      frozen        a processor owns the slab as its active slab (not on a partial list)
///  bit  41      dead          the slab was released; nothing may touch its memory
///  bits 42..63  tag           bumped by every change, so a stale compare-and-swap fails (ABA)
/// </code>
/// </summary>
internal static class SlabState
{
    internal const int MaxObjects = 0xFFFFE;
    internal const int None = 0xFFFFF;

    private const long FreeMask = 0xFFFFF;
    private const int HeadShift = 20;
    private const long LowMask = (1L << 40) - 1;
    internal const long FrozenBit = 1L << 40;
    internal const long DeadBit = 1L << 41;
    private const long TagUnit = 1L << 42;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static int FreeCount(long state) => (int)(state & FreeMask);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static int Head(long state) => (int)((state >> HeadShift) & FreeMask);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static bool IsFrozen(long state) => (state & FrozenBit) != 0;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static bool IsDead(long state) => (state & DeadBit) != 0;

    /// <summary>The same flags, a new head and free count, and the next tag.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static long With(long state, int head, int freeCount) =>
        unchecked(((state & ~LowMask) + TagUnit) | ((long)head << HeadShift) | (uint)freeCount);

    /// <summary>The same list with a flag set or cleared, and the next tag.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static long WithFlag(long state, long flag, bool on) =>
        unchecked((on ? state | flag : state & ~flag) + TagUnit);

    internal static long Initial(int head, int freeCount, bool frozen) =>
        ((long)head << HeadShift) | (uint)freeCount | (frozen ? FrozenBit : 0);
}
