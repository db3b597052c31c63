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
// machine for both sides. Arguments: seconds per size, sizes (comma-separated), and optionally a
// word that the names of the cases to run contain (e.g. "streaming": only the streaming cases).
double seconds = args.Length > 0 ? double.Parse(args[0], CultureInfo.InvariantCulture) : 8;
int[] sizes = (args.Length > 1 ? args[1] : "3000,4096").Split(',').Select(x => int.Parse(x, CultureInfo.InvariantCulture)).ToArray();
string only = args.Length > 2 ? args[2] : string.Empty;

using var fresh = new NewAllocator();
using var based = new BaseAllocator();
NewArrays newArrays = fresh.ArrayPool;
BaseArrays baseArrays = based.ArrayPool;
NewMemory newMemory = fresh.MemoryPool;
BaseMemory baseMemory = based.MemoryPool;
ArrayPool<byte> newArraysAbstract = newArrays, baseArraysAbstract = baseArrays;
MemoryPool<byte> newMemoryAbstract = newMemory, baseMemoryAbstract = baseMemory;
MemoryPool<byte> newNative = fresh.NativeBufferPool, baseNative = based.NativeBufferPool;
using var newStream = new StreamLine(newMemoryAbstract, "new: stream sender");
using var baseStream = new StreamLine(baseMemoryAbstract, "baseline: stream sender");
using var newNativeStream = new StreamLine(newNative, "new native: stream sender");
using var baseNativeStream = new StreamLine(baseNative, "baseline native: stream sender");

var cases = new (string Name, Func<int, int, long> Run)[]
{
    ("ArrayPool.Shared", static (n, s) => CaseLoops.SharedArrays(n, s)),
    ("ArrayPool, typed: new", (n, s) => Cases.NewArrays(newArrays, n, s)),
    ("ArrayPool, typed: baseline", (n, s) => Cases.BaseArrays(baseArrays, n, s)),
    ("ArrayPool as ArrayPool<byte>: new", (n, s) => CaseLoops.AbstractArrays<Cases.NewTag>(newArraysAbstract, n, s)),
    ("ArrayPool as ArrayPool<byte>: baseline", (n, s) => CaseLoops.AbstractArrays<Cases.BaseTag>(baseArraysAbstract, n, s)),
    ("ArrayPool: bursts of 512: new", (n, s) => CaseLoops.ArrayBursts<Cases.NewTag>(newArraysAbstract, n, s)),
    ("ArrayPool: bursts of 512: baseline", (n, s) => CaseLoops.ArrayBursts<Cases.BaseTag>(baseArraysAbstract, n, s)),
    ("MemoryPool.Shared", static (n, s) => CaseLoops.SharedMemory(n, s)),
    ("MemoryPool, RentOwner: new", (n, s) => Cases.NewOwners(newMemory, n, s)),
    ("MemoryPool, RentOwner: baseline", (n, s) => Cases.BaseOwners(baseMemory, n, s)),
    ("MemoryPool as MemoryPool<byte>: new", (n, s) => CaseLoops.AbstractMemory<Cases.NewTag>(newMemoryAbstract, n, s)),
    ("MemoryPool as MemoryPool<byte>: baseline", (n, s) => CaseLoops.AbstractMemory<Cases.BaseTag>(baseMemoryAbstract, n, s)),
    ("MemoryPool, Dispose() without using: new", (n, s) => CaseLoops.PlainDispose<Cases.NewTag>(newMemoryAbstract, n, s)),
    ("MemoryPool, Dispose() without using: baseline", (n, s) => CaseLoops.PlainDispose<Cases.BaseTag>(baseMemoryAbstract, n, s)),
    ("MemoryPool: NativeBufferPool as MemoryPool<byte>: new", (n, s) => CaseLoops.AbstractMemory<Cases.NewNativeTag>(newNative, n, s)),
    ("MemoryPool: NativeBufferPool as MemoryPool<byte>: baseline", (n, s) => CaseLoops.AbstractMemory<Cases.BaseNativeTag>(baseNative, n, s)),
    ("MemoryPool: bursts of 512: new", (n, s) => CaseLoops.MemoryBursts<Cases.NewTag>(newMemoryAbstract, n, s)),
    ("MemoryPool: bursts of 512: baseline", (n, s) => CaseLoops.MemoryBursts<Cases.BaseTag>(baseMemoryAbstract, n, s)),
    ("MemoryPool: NativeBufferPool, bursts of 512: new", (n, s) => CaseLoops.MemoryBursts<Cases.NewNativeTag>(newNative, n, s)),
    ("MemoryPool: NativeBufferPool, bursts of 512: baseline", (n, s) => CaseLoops.MemoryBursts<Cases.BaseNativeTag>(baseNative, n, s)),
    ("MemoryPool: streaming across threads: new", (n, s) => newStream.Run(n, s)),
    ("MemoryPool: streaming across threads: baseline", (n, s) => baseStream.Run(n, s)),
    ("MemoryPool: NativeBufferPool, streaming across threads: new", (n, s) => newNativeStream.Run(n, s)),
    ("MemoryPool: NativeBufferPool, streaming across threads: baseline", (n, s) => baseNativeStream.Run(n, s)),
};

// The shared pools stay in every selection: the ratios to them are read from their rows.
cases = cases.Where(c => c.Name.Contains(only, StringComparison.Ordinal) || c.Name is "ArrayPool.Shared" or "MemoryPool.Shared").ToArray();

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

/// <summary>The loops over a concrete pool type, one method per type (the others are CaseLoops', instantiated per tag), so that every call site profiles one pool type.</summary>
internal static class Cases
{
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

    // Tags of the cases that run CaseLoops' generic loops (one instantiation, so one profile, each).
    internal struct NewTag;

    internal struct BaseTag;

    internal struct NewNativeTag;

    internal struct BaseNativeTag;
}
