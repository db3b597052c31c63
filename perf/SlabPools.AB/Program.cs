extern alias baseline;

using System;
using System.Buffers;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Runtime.CompilerServices;
using SlabPools.Benchmarks;
using BaseAllocator = baseline::SlabPools.SlabAllocator;
using BaseArrays = baseline::SlabPools.Pools.SlabArrayPool;
using BaseMemory = baseline::SlabPools.Pools.SlabMemoryPool;
using BaseNative = baseline::SlabPools.NativeBufferPool;
using NewAllocator = SlabPools.SlabAllocator;
using NewArrays = SlabPools.Pools.SlabArrayPool;
using NewMemory = SlabPools.Pools.SlabMemoryPool;
using NewNative = SlabPools.NativeBufferPool;

// perf/ab.sh: single-thread rent+return of this tree's pools against a baseline commit's, in one
// process, rounds interleaved, each round's ratios taken before the median (as perf/interleaved.sh
// does for the peers): a change's effect on the fast paths, measured in the same moments of the
// machine for both sides. Arguments: seconds per size, sizes (comma-separated).
double seconds = args.Length > 0 ? double.Parse(args[0], CultureInfo.InvariantCulture) : 8;
int[] sizes = (args.Length > 1 ? args[1] : "3000,4096").Split(',').Select(x => int.Parse(x, CultureInfo.InvariantCulture)).ToArray();

using var fresh = new NewAllocator();
using var based = new BaseAllocator();
NewArrays newArrays = fresh.ArrayPool;
BaseArrays baseArrays = based.ArrayPool;
NewMemory newMemory = fresh.MemoryPool;
BaseMemory baseMemory = based.MemoryPool;
ArrayPool<byte> newArraysAbstract = newArrays, baseArraysAbstract = baseArrays;
MemoryPool<byte> newMemoryAbstract = newMemory, baseMemoryAbstract = baseMemory;
MemoryPool<byte> newNative = fresh.NativeBufferPool, baseNative = based.NativeBufferPool;

var cases = new (string Name, Func<int, int, long> Run)[]
{
    ("ArrayPool.Shared", static (n, s) => Cases.SharedArrays(n, s)),
    ("ArrayPool, typed: new", (n, s) => Cases.NewArrays(newArrays, n, s)),
    ("ArrayPool, typed: baseline", (n, s) => Cases.BaseArrays(baseArrays, n, s)),
    ("ArrayPool as ArrayPool<byte>: new", (n, s) => Cases.NewAbstractArrays(newArraysAbstract, n, s)),
    ("ArrayPool as ArrayPool<byte>: baseline", (n, s) => Cases.BaseAbstractArrays(baseArraysAbstract, n, s)),
    ("MemoryPool.Shared", static (n, s) => Cases.SharedMemory(n, s)),
    ("MemoryPool, RentOwner: new", (n, s) => Cases.NewOwners(newMemory, n, s)),
    ("MemoryPool, RentOwner: baseline", (n, s) => Cases.BaseOwners(baseMemory, n, s)),
    ("MemoryPool as MemoryPool<byte>: new", (n, s) => Cases.NewAbstractMemory(newMemoryAbstract, n, s)),
    ("MemoryPool as MemoryPool<byte>: baseline", (n, s) => Cases.BaseAbstractMemory(baseMemoryAbstract, n, s)),
    ("MemoryPool, Dispose() without using: new", (n, s) => Cases.NewPlainDispose(newMemoryAbstract, n, s)),
    ("MemoryPool, Dispose() without using: baseline", (n, s) => Cases.BasePlainDispose(baseMemoryAbstract, n, s)),
    ("MemoryPool: NativeBufferPool as MemoryPool<byte>: new", (n, s) => Cases.NewNativeMemory(newNative, n, s)),
    ("MemoryPool: NativeBufferPool as MemoryPool<byte>: baseline", (n, s) => Cases.BaseNativeMemory(baseNative, n, s)),
    ("MemoryPool: bursts of 512: new", (n, s) => Cases.Bursts<Cases.NewMemoryTag>(newMemoryAbstract, n, s)),
    ("MemoryPool: bursts of 512: baseline", (n, s) => Cases.Bursts<Cases.BaseMemoryTag>(baseMemoryAbstract, n, s)),
    ("MemoryPool: NativeBufferPool, bursts of 512: new", (n, s) => Cases.Bursts<Cases.NewNativeTag>(newNative, n, s)),
    ("MemoryPool: NativeBufferPool, bursts of 512: baseline", (n, s) => Cases.Bursts<Cases.BaseNativeTag>(baseNative, n, s)),
};

foreach (int size in sizes)
{
    // Rent() (-1) is how Kestrel asks for its blocks: the memory pools only.
    var active = size > 0 ? cases : cases.Where(c => c.Name.StartsWith("MemoryPool", StringComparison.Ordinal)).ToArray();
    (List<double>[] ns, long[] _, int rounds) = InterleavedRounds.Run(active.Select(c => c.Run).ToArray(), size, seconds);

    Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"### {(size > 0 ? $"{size} bytes" : $"Rent({size})")} ({rounds} rounds)"));
    Console.WriteLine();
    Console.WriteLine("| case | median | vs the shared pool | new / baseline |");
    Console.WriteLine("| --- | ---: | ---: | ---: |");
    int sharedArrays = Array.FindIndex(active, c => c.Name == "ArrayPool.Shared");
    int sharedMemory = Array.FindIndex(active, c => c.Name == "MemoryPool.Shared");
    for (int c = 0; c < active.Length; c++)
    {
        int shared = active[c].Name.StartsWith("ArrayPool", StringComparison.Ordinal) ? sharedArrays : sharedMemory;
        string versus = c == shared ? string.Empty : string.Create(CultureInfo.InvariantCulture, $"{InterleavedRounds.MedianRatio(ns[c], ns[shared]):0.00}x");
        string ab = active[c].Name.EndsWith(": new", StringComparison.Ordinal) ? string.Create(CultureInfo.InvariantCulture, $"{InterleavedRounds.MedianRatio(ns[c], ns[c + 1]):0.00}x") : string.Empty;
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| {active[c].Name} | {InterleavedRounds.Median(ns[c]):0.0} ns | {versus} | {ab} |"));
    }

    Console.WriteLine();
}

/// <summary>One method per case, so that every call site profiles one pool type.</summary>
internal static class Cases
{
    [MethodImpl(MethodImplOptions.NoInlining)]
    internal static long SharedArrays(int n, int size)
    {
        long sum = 0;
        for (int i = 0; i < n; i++)
        {
            byte[] a = ArrayPool<byte>.Shared.Rent(size);
            sum += a.Length;
            ArrayPool<byte>.Shared.Return(a);
        }

        return sum;
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    internal static long NewArrays(NewArrays pool, int n, int size)
    {
        long sum = 0;
        for (int i = 0; i < n; i++)
        {
            byte[] a = pool.Rent(size);
            sum += a.Length;
            pool.Return(a);
        }

        return sum;
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    internal static long BaseArrays(BaseArrays pool, int n, int size)
    {
        long sum = 0;
        for (int i = 0; i < n; i++)
        {
            byte[] a = pool.Rent(size);
            sum += a.Length;
            pool.Return(a);
        }

        return sum;
    }

    // Every abstract case has a loop of its own, not a shared inlined helper: tiered compilation
    // profiles a call site in the helper's own early code, so a shared helper would see both pool
    // types and the JIT would devirtualize only one of them.
    [MethodImpl(MethodImplOptions.NoInlining)]
    internal static long NewAbstractArrays(ArrayPool<byte> pool, int n, int size)
    {
        long sum = 0;
        for (int i = 0; i < n; i++)
        {
            byte[] a = pool.Rent(size);
            sum += a.Length;
            pool.Return(a);
        }

        return sum;
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    internal static long BaseAbstractArrays(ArrayPool<byte> pool, int n, int size)
    {
        long sum = 0;
        for (int i = 0; i < n; i++)
        {
            byte[] a = pool.Rent(size);
            sum += a.Length;
            pool.Return(a);
        }

        return sum;
    }

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

    [MethodImpl(MethodImplOptions.NoInlining)]
    internal static long NewOwners(NewMemory pool, int n, int size)
    {
        long sum = 0;
        for (int i = 0; i < n; i++)
        {
            using SlabPools.Pools.SlabMemoryOwner owner = pool.RentOwner(size);
            sum += owner.Memory.Length;
        }

        return sum;
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    internal static long BaseOwners(BaseMemory pool, int n, int size)
    {
        long sum = 0;
        for (int i = 0; i < n; i++)
        {
            using baseline::SlabPools.Pools.SlabMemoryOwner owner = pool.RentOwner(size);
            sum += owner.Memory.Length;
        }

        return sum;
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    internal static long NewAbstractMemory(MemoryPool<byte> pool, int n, int size)
    {
        long sum = 0;
        for (int i = 0; i < n; i++)
        {
            using IMemoryOwner<byte> owner = pool.Rent(size);
            sum += owner.Memory.Length;
        }

        return sum;
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    internal static long BaseAbstractMemory(MemoryPool<byte> pool, int n, int size)
    {
        long sum = 0;
        for (int i = 0; i < n; i++)
        {
            using IMemoryOwner<byte> owner = pool.Rent(size);
            sum += owner.Memory.Length;
        }

        return sum;
    }

    // Pipelines and Kestrel dispose their owners with a plain call, no try/finally around the use.
    [MethodImpl(MethodImplOptions.NoInlining)]
    internal static long NewPlainDispose(MemoryPool<byte> pool, int n, int size)
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

    [MethodImpl(MethodImplOptions.NoInlining)]
    internal static long BasePlainDispose(MemoryPool<byte> pool, int n, int size)
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

    [MethodImpl(MethodImplOptions.NoInlining)]
    internal static long NewNativeMemory(MemoryPool<byte> pool, int n, int size)
    {
        long sum = 0;
        for (int i = 0; i < n; i++)
        {
            using IMemoryOwner<byte> owner = pool.Rent(size);
            sum += owner.Memory.Length;
        }

        return sum;
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    internal static long BaseNativeMemory(MemoryPool<byte> pool, int n, int size)
    {
        long sum = 0;
        for (int i = 0; i < n; i++)
        {
            using IMemoryOwner<byte> owner = pool.Rent(size);
            sum += owner.Memory.Length;
        }

        return sum;
    }

    // Bursts (the benchmark suite's scenario 2): rent 512 buffers, then dispose them all; n rents
    // in all, rounded down to whole bursts (the same for both sides of a ratio). One loop,
    // instantiated once per case over a tag struct: each instantiation has its own code, so its
    // call sites profile one pool type (as the per-case methods above do).
    private const int BurstDepth = 512;

    internal struct NewMemoryTag;

    internal struct BaseMemoryTag;

    internal struct NewNativeTag;

    internal struct BaseNativeTag;

    [ThreadStatic]
    private static IMemoryOwner<byte>[]? t_held;

    [MethodImpl(MethodImplOptions.NoInlining)]
    internal static long Bursts<TTag>(MemoryPool<byte> pool, int n, int size)
        where TTag : struct
    {
        IMemoryOwner<byte>[] held = t_held ??= new IMemoryOwner<byte>[BurstDepth];
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
}
