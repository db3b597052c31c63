using System;
using System.Collections.Generic;
using System.Linq;
using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;
using SlabPools.Benchmarks;

// "interleaved [out-file] [seconds-per-size] [sizes]" runs the single-thread scenario in one process
// instead (perf/interleaved.sh). Otherwise: runs the benchmarks that --filter selects (all of them with --filter '*'). They run with the
// suite's short job unless the command line names another (--job short, --job dry, ...); options
// such as --iterationCount adjust whichever job runs. The exit code is 1 when a benchmark failed
// or could not run, so scripts notice.
if (args.Length > 0 && args[0] == "interleaved")
{
    // perf/interleaved.sh: the single-thread scenario with every pool in one process (see Interleaved).
    string outFile = args.Length > 1 ? args[1] : "perf/results/Interleaved.md";
    double seconds = args.Length > 2 ? double.Parse(args[2], System.Globalization.CultureInfo.InvariantCulture) : 10;
    int[] sizes = args.Length > 3 ? args[3].Split(',').Select(x => int.Parse(x, System.Globalization.CultureInfo.InvariantCulture)).ToArray() : [64, 3000, 4096, 4097, 70000];
    return Interleaved.Run(outFile, seconds, sizes);
}

if (args.Length > 0 && args[0] == "stream")
{
    // "stream <kestrel|slab|native> [seconds]": one pool's StreamLine alone, for a profiler.
    using var allocator = new SlabPools.SlabAllocator();
    using var kestrel = new KestrelPool();
    System.Buffers.MemoryPool<byte> pool = args[1] switch { "kestrel" => kestrel.Pool, "native" => allocator.NativeBufferPool, _ => allocator.MemoryPool };
    using var line = new StreamLine(pool, "stream sender");
    var clock = System.Diagnostics.Stopwatch.StartNew();
    long buffers = 0;
    while (clock.Elapsed.TotalSeconds < (args.Length > 2 ? double.Parse(args[2], System.Globalization.CultureInfo.InvariantCulture) : 10))
    {
        line.Run(20_000, 4096);
        buffers += 20_000;
    }

    Console.WriteLine($"{args[1]}: {clock.Elapsed.TotalNanoseconds / buffers:0.0} ns per buffer");
    return 0;
}

bool jobGiven = args.Any(a => a is "--job" or "-j" || a.StartsWith("--job=", StringComparison.Ordinal));
IEnumerable<Summary> summaries = BenchmarkSwitcher.FromAssembly(typeof(SuiteConfig).Assembly).Run(args, SuiteConfig.Create(useSuiteJob: !jobGiven));
bool failed = summaries.Any(s => s.HasCriticalValidationErrors || s.Reports.Any(r => !r.Success));
return failed ? 1 : 0;
