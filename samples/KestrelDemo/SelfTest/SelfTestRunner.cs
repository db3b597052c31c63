using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.Linq;
using System.Net.Http;
using System.Threading;
using System.Threading.Tasks;
using KestrelDemo.Monitoring;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using SlabPools;

namespace KestrelDemo.SelfTest;

/// <summary>
/// <c>--selftest</c>: starts the demo on a free loopback port with a one-second flusher, loads it
/// with checked requests, prints slabinfo before, at the peak, after the load and after the
/// flusher gave the memory back, and exits 0, or 1 with one <c>SELFTEST FAILED:</c> line.
/// </summary>
public static class SelfTestRunner
{
    /// <summary>The command-line switch that runs the self test.</summary>
    public const string Switch = "--selftest";

    /// <summary>The cache Kestrel rents its blocks from: the pinned cache of the transport block (<see cref="SlabPoolsOptions.TransportBlockSize"/>).</summary>
    public static string KestrelCacheOf(SlabAllocator allocator) => "pinned-" + allocator.Options.TransportBlockSize.ToString(CultureInfo.InvariantCulture);

    private static readonly TimeSpan FlushInterval = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan LoadTimeout = TimeSpan.FromMinutes(2);
    private static readonly TimeSpan ReclaimTimeout = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan PollPeriod = TimeSpan.FromMilliseconds(250);

    /// <summary>Runs the self test.</summary>
    /// <param name="args">Command-line arguments other than <see cref="Switch"/> (configuration).</param>
    /// <returns>The exit code: 0 when every check passed.</returns>
    public static async Task<int> RunAsync(string[] args)
    {
        try
        {
            await RunCoreAsync(args).ConfigureAwait(false);
            return 0;
        }
        catch (SelfTestFailedException e)
        {
            Console.Error.WriteLine("SELFTEST FAILED: " + e.Message);
            return 1;
        }
        catch (OptionsValidationException e)
        {
            Console.Error.WriteLine("SELFTEST FAILED: the configuration is invalid: " + e.Message);
            return 1;
        }
        catch (Exception e)
        {
            Console.Error.WriteLine($"SELFTEST FAILED: {e.GetType().Name}: {e.Message}");
            Console.Error.WriteLine(e);
            return 1;
        }
    }

    private static async Task RunCoreAsync(string[] args)
    {
        var overrides = new Dictionary<string, string?>
        {
            ["urls"] = "http://127.0.0.1:0",
            [DemoApp.SlabPoolsSection + ":FlushInterval"] = FlushInterval.ToString("c", CultureInfo.InvariantCulture),
            ["Logging:LogLevel:Default"] = "Warning",
        };
        WebApplication app = DemoApp.Build(args, overrides);
        await using (app.ConfigureAwait(false))
        {
            await app.StartAsync().ConfigureAwait(false);
            try
            {
                await RunChecksAsync(app).ConfigureAwait(false);
            }
            finally
            {
                await app.StopAsync().ConfigureAwait(false);
            }
        }
    }

    private static async Task RunChecksAsync(WebApplication app)
    {
        var address = new Uri(app.Urls.Single());
        SlabAllocator allocator = app.Services.GetRequiredService<SlabAllocator>();
        SlabErrorEventArgs? firstError = null;
        allocator.ErrorDetected += (_, e) => Interlocked.CompareExchange(ref firstError, e, null);

        Console.WriteLine($"SlabPools self test: KestrelDemo on {address}, flush interval {allocator.Options.FlushInterval.TotalSeconds.ToString(CultureInfo.InvariantCulture)} s");
        long before = SlabTotals.Of(allocator).ReservedBytes;
        PrintTable("before the load", before, allocator.FormatSlabInfo());

        Console.WriteLine($"== load: {LoadGenerator.Workers} workers x {LoadGenerator.Rounds} rounds of POST /echo, GET /json, GET /download (and GET /api/caches, /slabinfo every 10th round), every answer checked");
        var load = Stopwatch.StartNew();
        LoadStatistics statistics;
        PeakRecorder peak = PeakRecorder.Start(allocator);
        await using (peak.ConfigureAwait(false))
        {
            using HttpClient client = CreateClient(address);
            using var timeout = new CancellationTokenSource(LoadTimeout);
            var generator = new LoadGenerator(client, KestrelCacheOf(allocator));
            statistics = generator.Statistics;
            await generator.RunAsync(timeout.Token).ConfigureAwait(false);
            load.Stop();

            // Disposing the client closes its connections, and Kestrel gives their buffers back.
        }

        PrintTable($"at the peak of the load ({peak.PeakAt.TotalSeconds:0.0} s in)", peak.PeakReservedBytes, peak.Table);
        Console.WriteLine($"== load done: {statistics.Requests} requests in {load.Elapsed.TotalSeconds:0.0} s, all answers checked "
            + $"({statistics.Echoes} echo, {statistics.Documents} json, {statistics.Downloads} download, {statistics.Inspections} inspection); "
            + $"echoed {ByteSize.Format(statistics.BytesEchoed)}, downloaded {ByteSize.Format(statistics.BytesDownloaded)}");
        long afterLoad = SlabTotals.Of(allocator).ReservedBytes;
        PrintTable("after the load", afterLoad, allocator.FormatSlabInfo());

        CheckKestrelServed(allocator);
        (long afterFlush, TimeSpan waited) = await WaitForReclaimAsync(allocator, peak.PeakReservedBytes, afterLoad).ConfigureAwait(false);
        PrintTable($"after the flusher ({waited.TotalSeconds:0.0} s after the load)", afterFlush, allocator.FormatSlabInfo());

        if (firstError is not null)
        {
            throw new SelfTestFailedException($"the allocator reported {firstError.Kind} in {firstError.CacheName}: {firstError.Message}");
        }

        Console.WriteLine($"SELFTEST PASSED: {statistics.Requests} requests checked; reserved before {ByteSize.Format(before)} -> peak {ByteSize.Format(peak.PeakReservedBytes)} "
            + $"-> after the load {ByteSize.Format(afterLoad)} -> after the flusher {ByteSize.Format(afterFlush)}");
    }

    /// <summary>
    /// Polls the caches until their reserved bytes are at most half the peak and have stopped
    /// falling for three flush intervals.
    /// </summary>
    private static async Task<(long Reserved, TimeSpan Waited)> WaitForReclaimAsync(SlabAllocator allocator, long peak, long afterLoad)
    {
        long target = peak / 2;
        Console.WriteLine($"== waiting for the flusher to give memory back: reserved must fall to {ByteSize.Format(target)} or less within {ReclaimTimeout.TotalSeconds:0} s");
        var waited = Stopwatch.StartNew();
        long lowest = afterLoad;
        TimeSpan lastFall = TimeSpan.Zero;
        while (waited.Elapsed < ReclaimTimeout)
        {
            await Task.Delay(PollPeriod).ConfigureAwait(false);
            long reserved = SlabTotals.Of(allocator).ReservedBytes;
            if (reserved < lowest)
            {
                lowest = reserved;
                lastFall = waited.Elapsed;
                Console.WriteLine($"   +{lastFall.TotalSeconds:0.00} s  reserved {ByteSize.Format(reserved)}");
            }

            if (lowest <= target && waited.Elapsed - lastFall >= 3 * FlushInterval)
            {
                return (lowest, lastFall);
            }
        }

        if (lowest <= target)
        {
            return (lowest, lastFall);
        }

        throw new SelfTestFailedException($"reserved memory did not fall within {ReclaimTimeout.TotalSeconds:0} s: peak {ByteSize.Format(peak)}, after the load {ByteSize.Format(afterLoad)}, lowest since {ByteSize.Format(lowest)} (needed {ByteSize.Format(target)} or less).");
    }

    private static void CheckKestrelServed(SlabAllocator allocator)
    {
        string cache = KestrelCacheOf(allocator);
        SlabCacheInfo? kestrel = allocator.GetInfo().FirstOrDefault(c => c.Name == cache);
        if (kestrel is null || kestrel.SlabsAllocated == 0)
        {
            throw new SelfTestFailedException($"the {cache} cache never allocated a slab, so Kestrel did not rent from SlabPools.");
        }
    }

    private static void PrintTable(string when, long reserved, string table)
    {
        Console.WriteLine($"== slabinfo {when}: reserved {ByteSize.Format(reserved)}");
        Console.Write(table);
    }

    private static HttpClient CreateClient(Uri address) =>
        new(new SocketsHttpHandler { UseProxy = false, MaxConnectionsPerServer = LoadGenerator.Workers })
        {
            BaseAddress = address,
            Timeout = TimeSpan.FromSeconds(30),
        };
}
