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
    ("ArrayPool as ArrayPool<byte>: new", (n, s) => Cases.AbstractArrays<Cases.NewTag>(newArraysAbstract, n, s)),
    ("ArrayPool as ArrayPool<byte>: baseline", (n, s) => Cases.AbstractArrays<Cases.BaseTag>(baseArraysAbstract, n, s)),
    ("MemoryPool.Shared", static (n, s) => Cases.SharedMemory(n, s)),
    ("MemoryPool, RentOwner: new", (n, s) => Cases.NewOwners(newMemory, n, s)),
    ("MemoryPool, RentOwner: baseline", (n, s) => Cases.BaseOwners(baseMemory, n, s)),
    ("MemoryPool as MemoryPool<byte>: new", (n, s) => Cases.AbstractMemory<Cases.NewTag>(newMemoryAbstract, n, s)),
    ("MemoryPool as MemoryPool<byte>: baseline", (n, s) => Cases.AbstractMemory<Cases.BaseTag>(baseMemoryAbstract, n, s)),
    ("MemoryPool, Dispose() without using: new", (n, s) => Cases.PlainDispose<Cases.NewTag>(newMemoryAbstract, n, s)),
    ("MemoryPool, Dispose() without using: baseline", (n, s) => Cases.PlainDispose<Cases.BaseTag>(baseMemoryAbstract, n, s)),
    ("MemoryPool: NativeBufferPool as MemoryPool<byte>: new", (n, s) => Cases.AbstractMemory<Cases.NewNativeTag>(newNative, n, s)),
    ("MemoryPool: NativeBufferPool as MemoryPool<byte>: baseline", (n, s) => Cases.AbstractMemory<Cases.BaseNativeTag>(baseNative, n, s)),
    ("MemoryPool: bursts of 512: new", (n, s) => InterleavedRounds.MemoryBursts<Cases.NewTag>(newMemoryAbstract, n, s)),
    ("MemoryPool: bursts of 512: baseline", (n, s) => InterleavedRounds.MemoryBursts<Cases.BaseTag>(baseMemoryAbstract, n, s)),
    ("MemoryPool: NativeBufferPool, bursts of 512: new", (n, s) => InterleavedRounds.MemoryBursts<Cases.NewNativeTag>(newNative, n, s)),
    ("MemoryPool: NativeBufferPool, bursts of 512: baseline", (n, s) => InterleavedRounds.MemoryBursts<Cases.BaseNativeTag>(baseNative, n, s)),
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

/// <summary>One method (or one instantiation of a generic one) per case, so that every call site profiles one pool type.</summary>
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

    // The loops through the abstract types are one generic method each, instantiated once per case
    // over a tag struct: each instantiation has its own code, so its call sites profile one pool
    // type (a shared method, or a shared inlined helper, would see both and devirtualize one).
    internal struct NewTag;

    internal struct BaseTag;

    internal struct NewNativeTag;

    internal struct BaseNativeTag;

    [MethodImpl(MethodImplOptions.NoInlining)]
    internal static long AbstractArrays<TTag>(ArrayPool<byte> pool, int n, int size)
        where TTag : struct
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

    // Pipelines and Kestrel dispose their owners with a plain call, no try/finally around the use.
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
}
