using System.Runtime.InteropServices;

namespace SlabPools.Benchmarks;

/// <summary>
/// The two indexes of a <see cref="SpscRing{T}"/> and each side's copy of the other's, every pair
/// on a cache line of its own (128 bytes apart, which also keeps adjacent-line prefetching from
/// coupling them).
/// </summary>
[StructLayout(LayoutKind.Explicit, Size = 384)]
internal struct RingIndexes
{
    // Written by the producer; read by the consumer.
    [FieldOffset(128)]
    internal long Tail;

    // The producer's copy of Head.
    [FieldOffset(136)]
    internal long CachedHead;

    // Written by the consumer; read by the producer.
    [FieldOffset(256)]
    internal long Head;

    // The consumer's copy of Tail.
    [FieldOffset(264)]
    internal long CachedTail;
}
