using System;
using System.Buffers;
using System.Runtime.CompilerServices;

namespace SlabPools.Benchmarks;

/// <summary>
/// The measured loops that perf/interleaved.sh and perf/ab.sh (which compiles this file too) share:
/// one batch of a case, n rents and returns (or n buffers in bursts), returning a checksum.
/// </summary>
/// <remarks>
/// Every case must run in code of its own, so that its call sites profile one pool type (a shared
/// method, or a shared inlined helper, would see several and the JIT would devirtualize only one).
/// The loops through the abstract types are therefore generic over a tag struct, instantiated once
/// per case (each instantiation over a value type has its own code and profile); the loops over a
/// concrete pool type stay in the harnesses, one method per type.
/// </remarks>
internal static class CaseLoops
{
    /// <summary>Buffers per burst in <see cref="MemoryBursts{TTag}"/> and <see cref="ArrayBursts{TTag}"/>.</summary>
    internal const int BurstDepth = 512;

    [ThreadStatic]
    private static IMemoryOwner<byte>[]? t_owners;

    [ThreadStatic]
    private static byte[][]? t_arrays;

    /// <summary><see cref="ArrayPool{T}.Shared"/> through its static property (the JIT devirtualizes it).</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    internal static long SharedArrays(int n, int size)
    {
        long sum = 0;
        for (int i = 0; i < n; i++)
        {
            byte[] array = ArrayPool<byte>.Shared.Rent(size);
            sum += array.Length;
            ArrayPool<byte>.Shared.Return(array);
        }

        return sum;
    }

    /// <summary><see cref="MemoryPool{T}.Shared"/>, the use inside <c>using</c>.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    internal static long SharedMemory(int n, int size)
    {
        long sum = 0;
        for (int i = 0; i < n; i++)
        {
            using IMemoryOwner<byte> owner = MemoryPool<byte>.Shared.Rent(size);
            sum += owner.Memory.Length;
        }

        return sum;
    }

    /// <summary>An array pool through the abstract type (a service given it by dependency injection).</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    internal static long AbstractArrays<TTag>(ArrayPool<byte> pool, int n, int size)
        where TTag : struct
    {
        long sum = 0;
        for (int i = 0; i < n; i++)
        {
            byte[] array = pool.Rent(size);
            sum += array.Length;
            pool.Return(array);
        }

        return sum;
    }

    /// <summary>A memory pool through the abstract type, the use inside <c>using</c>.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    internal static long AbstractMemory<TTag>(MemoryPool<byte> pool, int n, int size)
        where TTag : struct
    {
        long sum = 0;
        for (int i = 0; i < n; i++)
        {
            using IMemoryOwner<byte> owner = pool.Rent(size);
            sum += owner.Memory.Length;
        }

        return sum;
    }

    /// <summary>A memory pool through the abstract type, disposed with a plain call (no try/finally), as Pipelines and Kestrel do.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    internal static long PlainDispose<TTag>(MemoryPool<byte> pool, int n, int size)
        where TTag : struct
    {
        long sum = 0;
        for (int i = 0; i < n; i++)
        {
            IMemoryOwner<byte> owner = pool.Rent(size);
            sum += owner.Memory.Length;
            owner.Dispose();
        }

        return sum;
    }

    /// <summary>
    /// Bursts (the benchmark suite's scenario 2): rents <see cref="BurstDepth"/> buffers, then
    /// disposes them all; <paramref name="n"/> buffers in all, rounded down to whole bursts (the
    /// same for every case of a round).
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    internal static long MemoryBursts<TTag>(MemoryPool<byte> pool, int n, int size)
        where TTag : struct
    {
        IMemoryOwner<byte>[] held = t_owners ??= new IMemoryOwner<byte>[BurstDepth];
        long sum = 0;
        for (int done = 0; done + BurstDepth <= n; done += BurstDepth)
        {
            for (int i = 0; i < BurstDepth; i++)
            {
                held[i] = pool.Rent(size);
                sum += held[i].Memory.Length;
            }

            for (int i = 0; i < BurstDepth; i++)
            {
                held[i].Dispose();
            }
        }

        return sum;
    }

    /// <summary>As <see cref="MemoryBursts{TTag}"/>, for an array pool.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    internal static long ArrayBursts<TTag>(ArrayPool<byte> pool, int n, int size)
        where TTag : struct
    {
        byte[][] held = t_arrays ??= new byte[BurstDepth][];
        long sum = 0;
        for (int done = 0; done + BurstDepth <= n; done += BurstDepth)
        {
            for (int i = 0; i < BurstDepth; i++)
            {
                held[i] = pool.Rent(size);
                sum += held[i].Length;
            }

            for (int i = 0; i < BurstDepth; i++)
            {
                pool.Return(held[i]);
            }
        }

        return sum;
    }
}
