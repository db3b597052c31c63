using System;
using System.Buffers;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Text;

namespace SlabPools.Reports;

/// <summary>
/// Memory waste: bytes a pool hands out (or allocates) for each byte requested, over two size mixes.
/// Lengths come from the pools themselves where they can be asked; for the others from their rules
/// (Kestrel: 4096-byte blocks chained; malloc: glibc's 16-byte chunks with an 8-byte header; new
/// byte[]: the array's 24-byte header on 64-bit).
/// </summary>
internal static class WasteReport
{
    private const int Samples = 200_000;

    internal static int Run(string outDir)
    {
        Directory.CreateDirectory(outDir);
        using var allocator = new SlabAllocator();
        var mixes = new (string Name, Func<Random, int> Draw)[]
        {
            ("log-uniform 16 B .. 64 KiB", r => (int)Math.Round(Math.Pow(2, 4 + (r.NextDouble() * 12)))),
            ("HTTP bodies", HttpBody),
        };
        var pools = new (string Name, Func<int, long> Allocated)[]
        {
            ("SlabPools ArrayPool", n => { byte[] a = allocator.ArrayPool.Rent(n); allocator.ArrayPool.Return(a); return a.Length; }),
            ("SlabPools MemoryPool", n => { using var o = allocator.MemoryPool.Rent(Math.Min(n, SizeClasses.MaxSize)); return o.Memory.Length + Math.Max(0, n - SizeClasses.MaxSize); }),
            ("ArrayPool<byte>.Shared", n => { byte[] a = ArrayPool<byte>.Shared.Rent(n); ArrayPool<byte>.Shared.Return(a); return a.Length; }),
            ("MemoryPool<byte>.Shared", n => { using var o = MemoryPool<byte>.Shared.Rent(n); return o.Memory.Length; }),
            ("Kestrel's pool (4 KiB blocks)", n => ((long)n + 4095) / 4096 * 4096),
            ("new byte[]", n => n + 24L),
            ("NativeMemory.Alloc (glibc)", n => Math.Max(32, (n + 8L + 15) & ~15L)),
        };

        var sb = new StringBuilder();
        var csv = new StringBuilder("mix,pool,allocated_over_requested,mean_ratio,max_ratio\n");
        sb.Append("# Waste: allocated / requested\n\n");
        sb.Append(CultureInfo.InvariantCulture, $"{Samples:N0} sizes per mix, fixed seed. \"bytes\" is total allocated over total requested; \"mean\" averages the per-request ratio; \"worst\" is the largest per-request ratio seen.\n\n");
        foreach ((string mixName, Func<Random, int> draw) in mixes)
        {
            var random = new Random(42);
            int[] sizes = Enumerable.Range(0, Samples).Select(_ => draw(random)).ToArray();
            sb.Append(CultureInfo.InvariantCulture, $"## {mixName}\n\n| pool | bytes | mean | worst |\n| --- | ---: | ---: | ---: |\n");
            foreach ((string poolName, Func<int, long> allocated) in pools)
            {
                long requested = 0, given = 0;
                double sumRatio = 0, worst = 0;
                foreach (int n in sizes)
                {
                    long a = allocated(n);
                    requested += n;
                    given += a;
                    double ratio = (double)a / n;
                    sumRatio += ratio;
                    worst = Math.Max(worst, ratio);
                }

                double bytes = (double)given / requested;
                sb.Append(CultureInfo.InvariantCulture, $"| {poolName} | {bytes:0.000} | {sumRatio / sizes.Length:0.000} | {worst:0.00} |\n");
                csv.Append(CultureInfo.InvariantCulture, $"{mixName},{poolName},{bytes:0.0000},{sumRatio / sizes.Length:0.0000},{worst:0.0000}\n");
            }

            sb.Append('\n');
        }

        sb.Append("HTTP bodies: 45% 64 B..2 KiB (small JSON), 30% 2..16 KiB, 18% 16..128 KiB, 7% 128 KiB..1 MiB, each log-uniform within its band.\n");
        File.WriteAllText(Path.Combine(outDir, "waste.md"), sb.ToString());
        File.WriteAllText(Path.Combine(outDir, "waste.csv"), csv.ToString());
        Console.Write(sb.ToString());
        return 0;
    }

    private static int HttpBody(Random r)
    {
        double p = r.NextDouble();
        (double lo, double hi) = p < 0.45 ? (6, 11) : p < 0.75 ? (11, 14) : p < 0.93 ? (14, 17) : (17, 20);
        return (int)Math.Round(Math.Pow(2, lo + (r.NextDouble() * (hi - lo))));
    }
}
