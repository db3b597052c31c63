using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Linq;

namespace SlabPools.Benchmarks;

/// <summary>
/// The measuring loop of perf/interleaved.sh and perf/ab.sh (which compiles this file too): cases
/// timed in rounds, each round running every case in turn, so that both sides of a ratio are
/// measured in the same moments of the machine; ratios are taken per round before the median.
/// Each round starts one case further on (round r runs case r mod n first), so that every case
/// follows every other equally often: a case that runs after one that churns through memory or
/// leaves garbage (the shared pools' bursts allocate 3.6 KB per buffer) meets colder caches and
/// collections, and with a fixed order the same cases would always pay for it.
/// </summary>
internal static class InterleavedRounds
{
    /// <summary>Each case runs this many batches per round (so that its method reaches tier 1 quickly).</summary>
    internal const int BatchesPerRound = 10;

    /// <summary>Rent+return pairs per batch.</summary>
    internal const int OpsPerBatch = 20_000;

    /// <summary>Pairs per case and round.</summary>
    internal const int OpsPerRound = BatchesPerRound * OpsPerBatch;

    // The first rounds run the cases' methods up to tier 1 and are not counted.
    private const int WarmUpRounds = 5;

    /// <summary>
    /// Runs <paramref name="cases"/> (each called as <c>run(pairs, size)</c>) in rounds for
    /// <paramref name="seconds"/>: per case, the ns per pair of every counted round, and the bytes
    /// the case allocated over them; <c>Rounds</c> counted.
    /// </summary>
    internal static (List<double>[] Ns, long[] Bytes, int Rounds) Run(IReadOnlyList<Func<int, int, long>> cases, int size, double seconds)
    {
        var ns = cases.Select(_ => new List<double>()).ToArray();
        var bytes = new long[cases.Count];
        int counted = 0;
        var clock = Stopwatch.StartNew();
        for (int round = 0; clock.Elapsed.TotalSeconds < seconds; round++)
        {
            bool measured = round >= WarmUpRounds;
            for (int k = 0; k < cases.Count; k++)
            {
                int c = (round + k) % cases.Count;
                long allocated = GC.GetAllocatedBytesForCurrentThread();
                long start = Stopwatch.GetTimestamp();
                for (int b = 0; b < BatchesPerRound; b++)
                {
                    cases[c](OpsPerBatch, size);
                }

                double elapsed = Stopwatch.GetElapsedTime(start).TotalNanoseconds;
                if (measured)
                {
                    ns[c].Add(elapsed / OpsPerRound);
                    bytes[c] += GC.GetAllocatedBytesForCurrentThread() - allocated;
                }
            }

            if (measured)
            {
                counted++;
            }
        }

        return (ns, bytes, counted);
    }

    /// <summary>The median (NaN for none).</summary>
    internal static double Median(List<double> values)
    {
        var sorted = values.OrderBy(v => v).ToList();
        return sorted.Count == 0 ? double.NaN : sorted[sorted.Count / 2];
    }

    /// <summary>The median of the per-round ratios <paramref name="values"/>[i] / <paramref name="baseline"/>[i].</summary>
    internal static double MedianRatio(List<double> values, List<double> baseline) =>
        Median(values.Zip(baseline, (v, b) => v / b).ToList());
}
