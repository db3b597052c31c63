using System;
using System.Collections.Generic;
using System.IO.Pipelines;
using System.Threading.Tasks;
using KestrelDemo.Api;
using KestrelDemo.Monitoring;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using SlabPools;

namespace KestrelDemo;

/// <summary>
/// The demo's endpoints. Each handler is a plain <see cref="RequestDelegate"/> that writes its
/// answer itself (no reflection-based binding), and the traffic goes through Kestrel's pipes, whose
/// buffers come from SlabPools.
/// </summary>
public static class DemoEndpoints
{
    /// <summary>The largest <c>GET /download</c>, in MiB.</summary>
    public const int MaxDownloadMiB = 64;

    /// <summary>The most orders <c>GET /json</c> makes.</summary>
    public const int MaxOrders = 2_000;

    private const int MiB = 1024 * 1024;

    // A download flushes after this many bytes, so that Kestrel's back-pressure bounds its buffers.
    private const int DownloadFlushBytes = 64 * 1024;

    /// <summary>Maps every endpoint of the demo.</summary>
    /// <param name="endpoints">The application.</param>
    public static void MapDemoEndpoints(this IEndpointRouteBuilder endpoints)
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        endpoints.MapGet("/", LivePage.WriteAsync);
        endpoints.MapPost("/echo", EchoAsync);
        endpoints.MapGet("/json", JsonAsync);
        endpoints.MapGet("/download", DownloadAsync);
        endpoints.MapGet("/slabinfo", SlabInfoAsync);
        endpoints.MapGet("/api/caches", CachesAsync);
        endpoints.MapGet("/api/history", HistoryAsync);
        endpoints.MapPost("/burst", BurstAsync);
        endpoints.MapPost("/shrink", ShrinkAsync);
    }

    /// <summary><c>POST /echo</c>: streams the request body back, from the request pipe to the response pipe.</summary>
    private static async Task EchoAsync(HttpContext context)
    {
        HttpResponse response = context.Response;
        response.ContentType = "application/octet-stream";
        response.ContentLength = context.Request.ContentLength;
        await context.Request.BodyReader.CopyToAsync(response.BodyWriter, context.RequestAborted);
    }

    /// <summary><c>GET /json?n=100&amp;seed=1</c>: a report computed over <c>n</c> orders.</summary>
    private static Task JsonAsync(HttpContext context)
    {
        if (!QueryArguments.TryGetInt(context.Request, "n", 100, 1, MaxOrders, out int count, out string? error)
            || !QueryArguments.TryGetInt(context.Request, "seed", 1, int.MinValue, int.MaxValue, out int seed, out error))
        {
            return BadRequestAsync(context, error);
        }

        OrderReport report = OrderReport.Generate(count, seed);
        return context.Response.WriteAsJsonAsync(report, DemoJsonContext.Default.OrderReport, contentType: null, context.RequestAborted);
    }

    /// <summary><c>GET /download?mb=N</c>: N MiB of <see cref="DownloadPattern"/>, written into the response pipe's own buffers.</summary>
    private static async Task DownloadAsync(HttpContext context)
    {
        if (!QueryArguments.TryGetInt(context.Request, "mb", 1, 1, MaxDownloadMiB, out int mebibytes, out string? error))
        {
            await BadRequestAsync(context, error);
            return;
        }

        long length = (long)mebibytes * MiB;
        HttpResponse response = context.Response;
        response.ContentType = "application/octet-stream";
        response.ContentLength = length;
        PipeWriter writer = response.BodyWriter;
        long offset = 0;
        int unflushed = 0;
        while (offset < length)
        {
            Memory<byte> memory = writer.GetMemory();
            int chunk = (int)Math.Min(memory.Length, length - offset);
            DownloadPattern.Fill(memory.Span[..chunk], offset);
            writer.Advance(chunk);
            offset += chunk;
            unflushed += chunk;
            if (unflushed >= DownloadFlushBytes || offset == length)
            {
                unflushed = 0;
                FlushResult flushed = await writer.FlushAsync(context.RequestAborted);
                if (flushed.IsCompleted || flushed.IsCanceled)
                {
                    return; // the client went away
                }
            }
        }
    }

    /// <summary><c>GET /slabinfo</c>: <see cref="SlabAllocator.FormatSlabInfo"/> as text.</summary>
    private static Task SlabInfoAsync(HttpContext context)
    {
        SlabAllocator allocator = context.RequestServices.GetRequiredService<SlabAllocator>();
        context.Response.ContentType = "text/plain; charset=utf-8";
        context.Response.Headers.CacheControl = "no-store";
        return context.Response.WriteAsync(allocator.FormatSlabInfo(), context.RequestAborted);
    }

    /// <summary><c>GET /api/caches</c>: every cache and the process figures, with a timestamp.</summary>
    private static Task CachesAsync(HttpContext context)
    {
        SlabAllocator allocator = context.RequestServices.GetRequiredService<SlabAllocator>();
        IReadOnlyList<SlabCacheInfo> caches = allocator.GetInfo();
        SlabTotals totals = SlabTotals.Of(caches);
        var process = new ProcessFigures(GC.GetTotalMemory(forceFullCollection: false), Environment.WorkingSet, GC.CollectionCount(0), GC.CollectionCount(1), GC.CollectionCount(2));
        var report = new CachesReport(
            allocator.Options.TimeProvider.GetUtcNow(),
            allocator.Options.FlushInterval.TotalSeconds,
            totals.ReservedBytes,
            totals.ActiveBytes,
            process,
            caches);
        context.Response.Headers.CacheControl = "no-store";
        return context.Response.WriteAsJsonAsync(report, DemoJsonContext.Default.CachesReport, contentType: null, context.RequestAborted);
    }

    /// <summary><c>GET /api/history</c>: the totals of the last minutes, one sample a second, oldest first.</summary>
    private static Task HistoryAsync(HttpContext context)
    {
        ReservedHistory history = context.RequestServices.GetRequiredService<ReservedHistory>();
        context.Response.Headers.CacheControl = "no-store";
        return context.Response.WriteAsJsonAsync(history.Snapshot(), DemoJsonContext.Default.IReadOnlyListHistorySample, contentType: null, context.RequestAborted);
    }

    /// <summary><c>POST /burst?count=2000&amp;holdMs=1000</c>: rents and returns many buffers (see <see cref="BurstRunner"/>).</summary>
    private static async Task BurstAsync(HttpContext context)
    {
        if (!QueryArguments.TryGetInt(context.Request, "count", 2_000, 1, BurstRunner.MaxBuffers, out int count, out string? error)
            || !QueryArguments.TryGetInt(context.Request, "holdMs", 1_000, 0, BurstRunner.MaxHoldMilliseconds, out int hold, out error))
        {
            await BadRequestAsync(context, error);
            return;
        }

        BurstRunner runner = context.RequestServices.GetRequiredService<BurstRunner>();
        BurstResult result = await runner.RunAsync(count, hold, context.RequestAborted);
        await context.Response.WriteAsJsonAsync(result, DemoJsonContext.Default.BurstResult, contentType: null, context.RequestAborted);
    }

    /// <summary><c>POST /shrink</c>: releases every empty slab now (<see cref="SlabAllocator.Shrink"/>) instead of waiting for the flusher.</summary>
    private static Task ShrinkAsync(HttpContext context)
    {
        SlabAllocator allocator = context.RequestServices.GetRequiredService<SlabAllocator>();
        long released = allocator.Shrink();
        var result = new ShrinkResult(released, SlabTotals.Of(allocator).ReservedBytes);
        return context.Response.WriteAsJsonAsync(result, DemoJsonContext.Default.ShrinkResult, contentType: null, context.RequestAborted);
    }

    private static Task BadRequestAsync(HttpContext context, string? error)
    {
        context.Response.StatusCode = StatusCodes.Status400BadRequest;
        context.Response.ContentType = "text/plain; charset=utf-8";
        return context.Response.WriteAsync(error + "\n", context.RequestAborted);
    }
}
