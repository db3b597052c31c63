using System;
using System.Diagnostics;
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace SlabPools;

/// <summary>
/// The kmalloc size classes, generated once at start-up. Classes step by 8 bytes up to 128, then
/// by an eighth of each power of two, up to 1 MiB, so no size wastes more than 12.5% above 128
/// bytes (ArrayPool's power-of-two buckets waste up to 100%). 96 and 192 are classes, as in Linux.
/// </summary>
/// <remarks>
/// <code>
///  range              step    classes
///  16 .. 128           8      16 24 32 40 48 56 64 72 80 88 96 104 112 120 128
///  129 .. 256         16      144 160 176 192 208 224 240 256
///  257 .. 512         32      288 320 352 384 416 448 480 512
///  513 .. 1 KiB       64      576 640 704 768 832 896 960 1024
///  1 KiB .. 2 KiB    128      1152 1280 1408 1536 1664 1792 1920 2048
///  2 KiB .. 4 KiB    256      2304 2560 2816 3072 3328 3584 3840 4096
///  4 KiB .. 8 KiB    512      4608 5120 5632 6144 6656 7168 7680 8192
///  ... and so on, eight classes per power of two ...
///  512 KiB .. 1 MiB  64 KiB   589824 655360 720896 786432 851968 917504 983040 1048576
/// </code>
/// The size-to-class lookup is arithmetic (one leading-zero count and shifts), not a search.
/// Measured waste (allocated / requested) over sizes drawn log-uniformly from 16 B to 64 KiB is in
/// README.md and checked by the tests.
/// </remarks>
public static class SizeClasses
{
    /// <summary>The smallest class.</summary>
    public const int MinSize = 16;

    /// <summary>The largest class; larger requests are not served by size classes.</summary>
    public const int MaxSize = 1 << 20;

    private const int SmallStepShift = 3;        // 8-byte steps
    private const int SmallLimit = 128;
    private const int SmallCount = ((SmallLimit - MinSize) >> SmallStepShift) + 1; // 15
    private const int ClassesPerPowerOfTwo = 8;
    private const int SmallLimitLog2 = 7;

    /// <summary>Number of classes, as a constant (for fixed-size per-class tables).</summary>
    internal const int CountConst = SmallCount + ((20 - SmallLimitLog2) * ClassesPerPowerOfTwo); // 119

    private static readonly int[] s_sizes = Generate();

    /// <summary>Number of classes.</summary>
    public static int Count => CountConst;

    /// <summary>The class sizes, ascending.</summary>
    public static ReadOnlySpan<int> Sizes => s_sizes;

    /// <summary>The name of the kmalloc cache of a class, for example <c>kmalloc-192</c>.</summary>
    public static string NameOf(int classSize) => "kmalloc-" + classSize.ToString(System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>The index of the smallest class that holds <paramref name="size"/> bytes, or -1 when it is larger than <see cref="MaxSize"/>.</summary>
    /// <param name="size">Requested bytes; values below <see cref="MinSize"/> (including 0) map to the smallest class.</param>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int IndexOf(int size)
    {
        if ((uint)size <= SmallLimit)
        {
            return SmallIndex(size);
        }

        return size > MaxSize ? -1 : LargeIndex(size);
    }

    /// <summary>
    /// <see cref="IndexOf"/> for a size the caller has checked to lie in 1..<see cref="MaxSize"/>
    /// (one unsigned compare, <c>(uint)(size - 1) &lt; MaxSize</c>): the result is always a class,
    /// 0 &lt;= index &lt; <see cref="CountConst"/> (the exhaustive size test checks every such size),
    /// so the fast paths index per-class tables with it unchecked.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static int IndexOfInRange(int size)
    {
        Debug.Assert((uint)(size - 1) < MaxSize);
        return size <= SmallLimit ? SmallIndex(size) : LargeIndex(size);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int SmallIndex(int size) => size <= MinSize ? 0 : ((size + 7) >> SmallStepShift) - (MinSize >> SmallStepShift);

    // size in (SmallLimit, MaxSize]: in (2^k, 2^(k+1)], so the top four bits of size - 1 read 8 +
    // the eighth of the power of two it falls in. One shift instead of subtracting 2^k first: this
    // runs on the array pool's return path, where the class decides the address of the next store.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int LargeIndex(int size)
    {
        int m = size - 1;
        int k = BitOperations.Log2((uint)m);
        return (k * ClassesPerPowerOfTwo) + (m >> (k - 3)) - ((SmallLimitLog2 + 1) * ClassesPerPowerOfTwo - SmallCount);
    }

    /// <summary>The size of the class that serves <paramref name="size"/> bytes, or -1 when none does.</summary>
    public static int ClassSizeOf(int size)
    {
        int index = IndexOf(size);
        return index < 0 ? -1 : s_sizes[index];
    }

    /// <summary>The size of class <paramref name="index"/>.</summary>
    public static int SizeAt(int index) => s_sizes[index];

    /// <summary>
    /// <see cref="SizeAt"/> without the bounds check, for an index from <see cref="IndexOfInRange"/>
    /// (always 0..<see cref="CountConst"/> - 1): the array pool's return path.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static int SizeAtUnchecked(int index)
    {
        Debug.Assert((uint)index < CountConst);
        return Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(s_sizes), index);
    }

    /// <summary>The index of the class whose size is exactly <paramref name="classSize"/>, or -1.</summary>
    public static int IndexOfExact(int classSize)
    {
        int index = IndexOf(classSize);
        return index >= 0 && s_sizes[index] == classSize && classSize >= MinSize ? index : -1;
    }

    private static int[] Generate()
    {
        var sizes = new System.Collections.Generic.List<int>();
        for (int s = MinSize; s <= SmallLimit; s += 1 << SmallStepShift)
        {
            sizes.Add(s);
        }

        for (int k = SmallLimitLog2; (1 << k) < MaxSize; k++)
        {
            int step = (1 << k) / ClassesPerPowerOfTwo;
            for (int j = 1; j <= ClassesPerPowerOfTwo; j++)
            {
                sizes.Add((1 << k) + (j * step));
            }
        }

        if (sizes.Count != CountConst || sizes[^1] != MaxSize)
        {
            throw new InvalidOperationException("The size-class table does not match CountConst.");
        }

        return sizes.ToArray();
    }
}
