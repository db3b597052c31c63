using System;
using System.Buffers;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Runtime.CompilerServices;
using System.Text;
using SlabPools.Pools;

namespace SlabPools.Benchmarks;

/// <summary>
/// Scenario 1 (single-thread rent and return) measured the other way round: every pool in one
/// process, in rounds, each round timing a batch of every pool in turn, and the ratios taken per
/// round before the median is.
/// </summary>
/// <remarks>
/// <para>Why besides BenchmarkDotNet: on a shared two-core virtual machine the speed of the same
/// code moves by up to twice for seconds at a time, in step for everything running (measured: a
/// loop of one pool ran at 21 ns per pair for six seconds, then 11 ns, then 21 ns again).
/// BenchmarkDotNet measures each case in its own process, one after the other, so two cases of a
/// ratio can land in different phases. Rounds a few milliseconds long, interleaved, put both sides
/// of every ratio in the same phase.</para>
/// <para>Every case runs the pool the way its users call it: <see cref="ArrayPool{T}.Shared"/>
/// through its static property (the JIT devirtualizes it) and through the abstract type (a service
/// given the shared pool by dependency injection), SlabPools' pools both typed (the benchmark
/// suite's way) and through the abstract <see cref="ArrayPool{T}"/> and <see cref="MemoryPool{T}"/>
/// a service gets from dependency injection.</para>
/// </remarks>
internal static class Interleaved
{
    private sealed record Case(string Name, string Family, Func<int, int, long> Run);

    /// <summary>Runs every size for <paramref name="secondsPerSize"/> seconds and writes the report to <paramref name="outFile"/>.</summary>
    internal static int Run(string outFile, double secondsPerSize, int[] sizes)
    {
        using var allocator = new SlabAllocator(new SlabPoolsOptions());
        using var kestrel = new KestrelPool();
        SlabArrayPool slabArrays = allocator.ArrayPool;
        ArrayPool<byte> slabArraysAbstract = allocator.ArrayPool;
        SlabMemoryPool slabMemory = allocator.MemoryPool;
        MemoryPool<byte> slabMemoryAbstract = allocator.MemoryPool;
        NativeBufferPool slabNative = allocator.NativeBufferPool;
        MemoryPool<byte> kestrelPool = kestrel.Pool;
        ArrayPool<byte> sharedArraysAbstract = ArrayPool<byte>.Shared;

        var cases = new List<Case>
        {
            new("ArrayPool.Shared", "array", static (n, size) => CaseLoops.SharedArrays(n, size)),
            new("ArrayPool.Shared as ArrayPool<byte>", "array", (n, size) => CaseLoops.AbstractArrays<SharedTag>(sharedArraysAbstract, n, size)),
            new("SlabArrayPool", "array", (n, size) => SlabArrays(slabArrays, n, size)),
            new("SlabArrayPool as ArrayPool<byte>", "array", (n, size) => CaseLoops.AbstractArrays<SlabTag>(slabArraysAbstract, n, size)),
            new("MemoryPool.Shared", "memory", static (n, size) => CaseLoops.SharedMemory(n, size)),
            new("KestrelPool", "memory", (n, size) => CaseLoops.AbstractMemory<KestrelTag>(kestrelPool, n, size)),
            new("SlabMemoryPool.RentOwner", "memory", (n, size) => SlabOwners(slabMemory, n, size)),
            new("SlabMemoryPool as MemoryPool<byte>", "memory", (n, size) => CaseLoops.AbstractMemory<SlabTag>(slabMemoryAbstract, n, size)),
            new("NativeBufferPool", "memory", (n, size) => NativeMemory(slabNative, n, size)),
        };

        var report = new StringBuilder();
        report.AppendLine(CultureInfo.InvariantCulture, $"Single-thread rent and return, every pool in one process, rounds interleaved ({secondsPerSize:0.#} s per size, {InterleavedRounds.BatchesPerRound} x {InterleavedRounds.OpsPerBatch:N0} pairs per case and round).");
        report.AppendLine("Ratios are medians over rounds of each round's own ratio; ns are medians over rounds. B/op: bytes allocated per pair.");
        report.AppendLine();

        foreach (int size in sizes)
        {
            Case[] active = cases.Where(c => c.Name != "KestrelPool" || size <= KestrelPool.BlockSize).ToArray();
            (List<double>[] ns, long[] bytes, int rounds) = InterleavedRounds.Run(active.Select(c => c.Run).ToArray(), size, secondsPerSize);
            long ops = (long)rounds * InterleavedRounds.OpsPerRound;

            var table = new StringBuilder();
            table.AppendLine(CultureInfo.InvariantCulture, $"### {size} bytes ({rounds} rounds)");
            table.AppendLine();
            table.AppendLine("| Case | Median | vs ArrayPool.Shared | vs ArrayPool.Shared as ArrayPool<byte> | vs MemoryPool.Shared | vs KestrelPool | B/op |");
            table.AppendLine("| --- | ---: | ---: | ---: | ---: | ---: | ---: |");
            int sharedArrays = Index(active, "ArrayPool.Shared");
            int sharedArraysAsBase = Index(active, "ArrayPool.Shared as ArrayPool<byte>");
            int sharedMemory = Index(active, "MemoryPool.Shared");
            int kestrelIndex = Index(active, "KestrelPool");
            for (int c = 0; c < active.Length; c++)
            {
                string Versus(int baseline, string family) =>
                    baseline < 0 || c == baseline || (family.Length > 0 && active[c].Family != family) ? string.Empty : $"{InterleavedRounds.MedianRatio(ns[c], ns[baseline]):0.00}x";

                table.AppendLine(CultureInfo.InvariantCulture,
                    $"| {active[c].Name} | {InterleavedRounds.Median(ns[c]):0.0} ns | {Versus(sharedArrays, string.Empty)} | {Versus(sharedArraysAsBase, "array")} | {Versus(sharedMemory, "memory")} | {Versus(kestrelIndex, "memory")} | {(double)bytes[c] / Math.Max(1, ops):0} |");
            }

            table.AppendLine();
            Console.Write(table.ToString());
            report.Append(table);
        }

        report.Append(RunBursts(kestrelPool, slabMemoryAbstract, slabNative, slabArraysAbstract, secondsPerSize));
        report.Append(RunStreaming(kestrelPool, slabMemoryAbstract, slabNative, secondsPerSize));
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(outFile))!);
        File.WriteAllText(outFile, report.ToString());
        return 0;
    }

    // Scenario 2 (bursts of 512 buffers of 4 KiB: rent them all, then return them all) in the same
    // way, each pool against Kestrel's in the same rounds. Each case is its own instantiation of
    // a burst loop (a tag struct per case), so that its call sites profile one pool type.
    private static string RunBursts(MemoryPool<byte> kestrelPool, MemoryPool<byte> slabMemory, MemoryPool<byte> slabNative, ArrayPool<byte> slabArrays, double seconds)
    {
        var cases = new List<Case>
        {
            new("KestrelPool", "memory", (n, size) => CaseLoops.MemoryBursts<KestrelTag>(kestrelPool, n, size)),
            new("MemoryPool.Shared", "memory", static (n, size) => CaseLoops.MemoryBursts<SharedTag>(MemoryPool<byte>.Shared, n, size)),
            new("ArrayPool.Shared", "array", static (n, size) => CaseLoops.ArrayBursts<SharedTag>(ArrayPool<byte>.Shared, n, size)),
            new("SlabMemoryPool as MemoryPool<byte>", "memory", (n, size) => CaseLoops.MemoryBursts<SlabTag>(slabMemory, n, size)),
            new("NativeBufferPool as MemoryPool<byte>", "memory", (n, size) => CaseLoops.MemoryBursts<NativeTag>(slabNative, n, size)),
            new("SlabArrayPool as ArrayPool<byte>", "array", (n, size) => CaseLoops.ArrayBursts<SlabTag>(slabArrays, n, size)),
        };

        (List<double>[] ns, long[] bytes, int rounds) = InterleavedRounds.Run(cases.Select(c => c.Run).ToArray(), KestrelPool.BlockSize, seconds);
        long buffers = (long)rounds * InterleavedRounds.OpsPerRound / BurstDepth * BurstDepth;
        return Table(
            $"Bursts of {BurstDepth} buffers of {KestrelPool.BlockSize} bytes ({rounds} rounds)",
            "Each burst rents 512 buffers, then returns them all; ns and B per buffer.",
            cases,
            ns,
            bytes,
            buffers);
    }

    // Kestrel's download path in miniature (StreamLine): buffers of 4 KiB rented and filled on this
    // thread, held 4096 deep, then copied out and returned on another thread; each memory pool
    // against Kestrel's in the same rounds. The buffers the pools cycle through (16 MiB and more)
    // do not fit in a core's cache, as under the 512-connection Kestrel burst.
    private static string RunStreaming(MemoryPool<byte> kestrelPool, MemoryPool<byte> slabMemory, MemoryPool<byte> slabNative, double seconds)
    {
        using var kestrel = new StreamLine(kestrelPool, "KestrelPool stream sender");
        using var shared = new StreamLine(MemoryPool<byte>.Shared, "MemoryPool.Shared stream sender");
        using var slab = new StreamLine(slabMemory, "SlabMemoryPool stream sender");
        using var native = new StreamLine(slabNative, "NativeBufferPool stream sender");
        var cases = new List<Case>
        {
            new("KestrelPool", "memory", kestrel.Run),
            new("MemoryPool.Shared", "memory", shared.Run),
            new("SlabMemoryPool as MemoryPool<byte>", "memory", slab.Run),
            new("NativeBufferPool as MemoryPool<byte>", "memory", native.Run),
        };

        (List<double>[] ns, long[] bytes, int rounds) = InterleavedRounds.Run(cases.Select(c => c.Run).ToArray(), KestrelPool.BlockSize, seconds);
        return Table(
            $"Streaming buffers of {KestrelPool.BlockSize} bytes across threads, {StreamLine.Depth} held ({rounds} rounds)",
            "Each buffer is rented and filled on the measuring thread, held behind 4096 others, then copied out and returned on another thread; ns per buffer, and B per buffer allocated on the measuring thread.",
            cases,
            ns,
            bytes,
            (long)rounds * InterleavedRounds.OpsPerRound);
    }

    // A table of per-buffer medians, each case against the first (Kestrel's pool).
    private static string Table(string title, string description, List<Case> cases, List<double>[] ns, long[] bytes, long buffers)
    {
        var table = new StringBuilder();
        table.AppendLine(CultureInfo.InvariantCulture, $"### {title}");
        table.AppendLine();
        table.AppendLine(description);
        table.AppendLine();
        table.AppendLine("| Case | Median | vs KestrelPool | B/buffer |");
        table.AppendLine("| --- | ---: | ---: | ---: |");
        for (int c = 0; c < cases.Count; c++)
        {
            string versus = c == 0 ? string.Empty : $"{InterleavedRounds.MedianRatio(ns[c], ns[0]):0.00}x";
            table.AppendLine(CultureInfo.InvariantCulture, $"| {cases[c].Name} | {InterleavedRounds.Median(ns[c]):0.0} ns | {versus} | {(double)bytes[c] / Math.Max(1, buffers):0} |");
        }

        table.AppendLine();
        Console.Write(table.ToString());
        return table.ToString();
    }

    private const int BurstDepth = CaseLoops.BurstDepth;

    private struct KestrelTag;

    private struct SharedTag;

    private struct SlabTag;

    private struct NativeTag;

    private static int Index(Case[] cases, string name) => Array.FindIndex(cases, c => c.Name == name);

    // One batch each over a concrete pool type (the shared and abstract-type loops are CaseLoops'):
    // every case has a method of its own (NoInlining), so that its call sites profile one pool
    // type, as a service's code would.

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static long SlabArrays(SlabArrayPool pool, int n, int size)
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

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static long NativeMemory(NativeBufferPool pool, int n, int size)
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
    private static long SlabOwners(SlabMemoryPool pool, int n, int size)
    {
        long sum = 0;
        for (int i = 0; i < n; i++)
        {
            using SlabMemoryOwner owner = pool.RentOwner(size);
            sum += owner.Memory.Length;
        }

        return sum;
    }
}
