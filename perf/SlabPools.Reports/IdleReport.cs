using System;
using System.Buffers;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Text;
using System.Threading;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.DependencyInjection;

namespace SlabPools.Reports;

/// <summary>
/// Memory given back when idle: each pool, in a process of its own, rents a burst of 20,000
/// buffers of 4 KiB, returns them all, then stays idle; every second it samples the bytes the pool
/// holds (where the pool can tell), the GC heap and the process's resident memory. Nothing here
/// forces a GC; SlabPools itself asks for one background collection once its flushers have released
/// <see cref="SlabPoolsOptions.CollectAfterRelease"/> bytes of managed memory (32 MiB by default).
/// </summary>
internal static class IdleReport
{
    private const int Burst = 20_000;
    private const int Size = 4096;
    private const int WarmUpBuffers = 64;

    private static readonly string[] Pools = ["slabpools-pinned", "slabpools-native", "slabpools-pinned-aggressive", "slabpools-native-aggressive", "slabpools-native-aggressive-again", "arraypool-shared", "memorypool-shared", "kestrel"];

    internal static int Run(string outDir, int seconds)
    {
        Directory.CreateDirectory(outDir);
        var csv = new StringBuilder("pool,second,pool_bytes,gc_heap_bytes,rss_bytes\n");
        var rows = new Dictionary<string, List<string[]>>();
        string self = Environment.ProcessPath!;
        string? dll = typeof(IdleReport).Assembly.Location;
        foreach (string pool in Pools)
        {
            var start = new ProcessStartInfo(self) { RedirectStandardOutput = true, UseShellExecute = false };
            if (Path.GetFileNameWithoutExtension(self) == "dotnet")
            {
                start.ArgumentList.Add(dll);
            }

            start.ArgumentList.Add("idle-one");
            start.ArgumentList.Add(pool);
            start.ArgumentList.Add(seconds.ToString(CultureInfo.InvariantCulture));
            using Process child = Process.Start(start)!;
            var lines = new List<string[]>();
            string? line;
            while ((line = child.StandardOutput.ReadLine()) is not null)
            {
                if (line.StartsWith('#'))
                {
                    continue; // the child's warm-up of its sampling code
                }

                Console.WriteLine($"{pool}: {line}");
                csv.Append(pool).Append(',').Append(line).Append('\n');
                lines.Add(line.Split(','));
            }

            child.WaitForExit();
            if (child.ExitCode != 0)
            {
                Console.Error.WriteLine($"{pool} failed with exit code {child.ExitCode}");
                return 1;
            }

            rows[pool] = lines;
        }

        File.WriteAllText(Path.Combine(outDir, "idle.csv"), csv.ToString());
        var md = new StringBuilder("# Idle: memory after a burst of 20,000 buffers of 4 KiB is returned\n\n");
        md.Append("MiB before the burst (after a warm-up: 64 buffers rented and returned 200 times, the sampling code run 200 times, SlabPools' Shrink() called once, the warm-up's garbage collected (one aggressive collection), then 1 s, so that start-up costs such as loading and compiling the pool's and the report's code are not counted as the burst's), at the peak (burst held), just after return, and after 10, 20 and ").Append(seconds).Append(" s idle. \"pool\" is what the pool itself reports holding (SlabPools: BytesReserved; others cannot tell), \"RSS\" the process's resident memory. SlabPools runs its default 10 s flusher and, once that has released 32 MiB or more of managed memory (pinned slabs, arrays), asks the GC for one background collection (SlabPoolsOptions.CollectAfterRelease); the \"-aggressive\" runs set SlabPoolsOptions.CollectionMode = Aggressive instead (one blocking, compacting collection once every cache is idle; the native run also lowers CollectAfterRelease to 1 MiB, since only its owners are managed); \"-again\" first goes through the same burst and 35 s of idle before its \"before\" sample. Nothing else forces a GC.\n\n");
        md.Append("| pool | RSS before | RSS peak | RSS returned | RSS 10 s | RSS 20 s | RSS end | GC heap end | pool peak | pool end |\n| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n");
        foreach ((string pool, List<string[]> lines) in rows)
        {
            string Mib(int index, int column) => (double.Parse(lines[Math.Min(index, lines.Count - 1)][column], CultureInfo.InvariantCulture) / (1 << 20)).ToString("0.0", CultureInfo.InvariantCulture);
            int At(int second)
            {
                int i = lines.FindIndex(l => l[0] == second.ToString(CultureInfo.InvariantCulture));
                return i < 0 ? lines.Count - 1 : i;
            }

            string poolEnd = lines[^1][1] == "-1" ? "n/a" : Mib(lines.Count - 1, 1);
            string poolPeak = lines[1][1] == "-1" ? "n/a" : Mib(1, 1);
            md.Append(CultureInfo.InvariantCulture, $"| {pool} | {Mib(0, 3)} | {Mib(1, 3)} | {Mib(2, 3)} | {Mib(At(10), 3)} | {Mib(At(20), 3)} | {Mib(lines.Count - 1, 3)} | {Mib(lines.Count - 1, 2)} | {poolPeak} | {poolEnd} |\n");
        }

        File.WriteAllText(Path.Combine(outDir, "idle.md"), md.ToString());
        Console.Write(md.ToString());
        return 0;
    }

    /// <summary>Runs one pool and prints "second,pool_bytes,gc_heap_bytes,rss_bytes" lines: -3 = before the burst, -2 = peak, -1 = just returned, then 0..seconds.</summary>
    internal static int RunOne(string pool, int seconds)
    {
        SlabAllocator? allocator = null;
        WebApplication? app = null;
        Func<long> poolBytes = () => -1;
        MemoryPool<byte>? memory = null;
        switch (pool)
        {
            case "slabpools-pinned":
            case "slabpools-native":
            case "slabpools-pinned-aggressive":
            case "slabpools-native-aggressive":
            case "slabpools-native-aggressive-again":
            {
                bool native = pool.StartsWith("slabpools-native", StringComparison.Ordinal);
                var options = new SlabPoolsOptions();
                if (pool.Contains("-aggressive", StringComparison.Ordinal))
                {
                    options.CollectionMode = SlabCollectionMode.Aggressive;
                    options.CollectAfterRelease = native ? 1L << 20 : SlabPoolsOptions.DefaultCollectAfterRelease;
                }

                allocator = new SlabAllocator(options);
                memory = native ? allocator.NativeBufferPool : allocator.MemoryPool;
                SlabAllocator a = allocator;
                poolBytes = () => a.GetInfo().Sum(i => i.BytesReserved);
                break;
            }

            case "arraypool-shared":
                break;

            case "memorypool-shared":
                memory = MemoryPool<byte>.Shared;
                break;

            case "kestrel":
                // Kestrel's pool as a bare pool: its idle eviction runs from the server's heartbeat,
                // which does not run here, so this shows a pool without eviction.
                app = WebApplication.CreateSlimBuilder().Build();
                memory = app.Services.GetRequiredService<IMemoryPoolFactory<byte>>().Create();
                break;

            default:
                Console.Error.WriteLine($"unknown pool {pool}");
                return 2;
        }

        var owners = new IMemoryOwner<byte>[Burst];
        var arrays = new byte[Burst][];
        void Rent(int count)
        {
            for (int i = 0; i < count; i++)
            {
                if (memory is null)
                {
                    arrays[i] = ArrayPool<byte>.Shared.Rent(Size);
                    arrays[i].AsSpan().Fill(1);
                }
                else
                {
                    owners[i] = memory.Rent(Size);
                    owners[i].Memory.Span.Fill(1);
                }
            }
        }

        void Return(int count)
        {
            for (int i = 0; i < count; i++)
            {
                if (memory is null)
                {
                    ArrayPool<byte>.Shared.Return(arrays[i]);
                    arrays[i] = null!;
                }
                else
                {
                    owners[i].Dispose();
                    owners[i] = null!;
                }
            }
        }

        // Warm-up: bring the process to where a running service is before a burst, so that "before"
        // does not count one-time start-up costs against the pool: the pool's code loaded and
        // compiled (tiered compilation compiles hot methods again after 30 calls, in the background,
        // so the loop runs well past that and then gives the compiler a moment), the sampling's own
        // code run once. A few buffers rented and returned many times keep the pool and the GC heap small.
        for (int round = 0; round < 200; round++)
        {
            Rent(WarmUpBuffers);
            Return(WarmUpBuffers);
        }

        // The sampling code runs once a second, so tiered compilation would compile it twice more
        // (instrumented after 30 calls, optimized after 30 more, each once the process has been
        // quiet for 100 ms) in the middle of the idle measurement: run it past that here. And the
        // pool's reclaim code (which a running service's flusher has run many times) once, so that
        // its first compilation is not counted as the burst's either.
        for (int i = 0; i < 200; i++)
        {
            Sample(i, poolBytes, warmUp: true);
            if (i % 40 == 39)
            {
                Thread.Sleep(250);
            }
        }

        allocator?.Shrink();

        // The warm-up's own garbage goes before "before" is sampled (every row alike), so that a
        // collection after the burst cannot make the burst look smaller than it was.
        GC.Collect(2, GCCollectionMode.Aggressive, blocking: true, compacting: true);
        GC.WaitForPendingFinalizers();

        if (pool.EndsWith("-again", StringComparison.Ordinal))
        {
            // A process that has been through one burst already: the same burst, returned, then
            // idle long enough for the flusher's release and the idle collection (three intervals).
            // "Before" is then where that left the process, and the row shows what a further burst
            // leaves behind, without the first burst's one-time costs (code run for the first time).
            Rent(Burst);
            Return(Burst);
            Thread.Sleep(TimeSpan.FromSeconds(35));
        }

        Thread.Sleep(TimeSpan.FromSeconds(1));
        Sample(-3, poolBytes);
        Rent(Burst);
        Sample(-2, poolBytes);
        Return(Burst);
        Sample(-1, poolBytes);
        long start = Stopwatch.GetTimestamp();
        for (int second = 0; second <= seconds; second++)
        {
            // Idle: wait for the next whole second on the wall clock (this is the measurement).
            TimeSpan wait = TimeSpan.FromSeconds(second) - Stopwatch.GetElapsedTime(start);
            if (wait > TimeSpan.Zero)
            {
                Thread.Sleep(wait);
            }

            Sample(second, poolBytes);
        }

        allocator?.Dispose();
        (app as IDisposable)?.Dispose();
        return 0;
    }

    // One line "second,pool_bytes,gc_heap_bytes,rss_bytes"; warm-up lines start with '#' and are skipped by the parent.
    private static void Sample(int second, Func<long> poolBytes, bool warmUp = false)
    {
        long pool = poolBytes();
        long heap = GC.GetTotalMemory(false);
        long rss = ResidentBytes();
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{(warmUp ? "#" : string.Empty)}{second},{pool},{heap},{rss}"));
    }

    // Resident pages from /proc/self/statm ("size resident shared ..."), read into a stack buffer:
    // the sampling itself allocates nothing, so its own garbage does not grow the heap (and RSS)
    // during the idle seconds it measures.
    private static long ResidentBytes()
    {
        using Microsoft.Win32.SafeHandles.SafeFileHandle handle = File.OpenHandle("/proc/self/statm");
        Span<byte> text = stackalloc byte[128];
        int length = RandomAccess.Read(handle, text, 0);
        text = text[..length];
        int space = text.IndexOf((byte)' ');
        text = text[(space + 1)..];
        long pages = 0;
        foreach (byte b in text)
        {
            if (b is < (byte)'0' or > (byte)'9')
            {
                break;
            }

            pages = (pages * 10) + (b - '0');
        }

        return pages * Environment.SystemPageSize;
    }
}
