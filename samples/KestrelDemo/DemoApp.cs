using System;
using System.Collections.Generic;
using KestrelDemo.Monitoring;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using SlabPools;

namespace KestrelDemo;

/// <summary>Builds the demo service: Kestrel on loopback, SlabPools for every buffer, the demo's endpoints.</summary>
public static class DemoApp
{
    /// <summary>Where the demo listens unless <c>--urls</c> (or <c>ASPNETCORE_URLS</c>, or <c>urls</c> in configuration) says otherwise.</summary>
    public const string DefaultUrl = "http://127.0.0.1:5080";

    /// <summary>Set to <c>kestrel</c> (<c>--Demo:TransportPool=kestrel</c>) to leave Kestrel on its own memory pool, for comparisons.</summary>
    public const string TransportPoolKey = "Demo:TransportPool";

    /// <summary>The configuration section SlabPools' options bind from.</summary>
    public const string SlabPoolsSection = "SlabPools";

    /// <summary>Builds the application.</summary>
    /// <param name="args">Command-line arguments (configuration, for example <c>--urls</c> or <c>--SlabPools:FlushInterval=00:00:02</c>).</param>
    /// <param name="overrides">Configuration that wins over every other source, or <see langword="null"/>.</param>
    /// <returns>The application, not started.</returns>
    public static WebApplication Build(string[] args, IReadOnlyDictionary<string, string?>? overrides = null)
    {
        // appsettings.json is copied beside the assembly, so the demo finds it from any working directory.
        WebApplicationBuilder builder = WebApplication.CreateBuilder(new WebApplicationOptions { Args = args, ContentRootPath = AppContext.BaseDirectory });
        if (overrides is not null)
        {
            builder.Configuration.AddInMemoryCollection(overrides);
        }

        builder.WebHost.UseUrls(builder.Configuration["urls"] ?? DefaultUrl);

        // AddSlabPools registers the allocator, ArrayPool<byte>, MemoryPool<byte>, NativeBufferPool,
        // Kestrel's IMemoryPoolFactory<byte> and PipeOptions; its options come from "SlabPools".
        builder.Services.Configure<SlabPoolsOptions>(builder.Configuration.GetSection(SlabPoolsSection));
        if (string.Equals(builder.Configuration[TransportPoolKey], "kestrel", StringComparison.OrdinalIgnoreCase))
        {
            // For side-by-side load tests (perf/kestrel-load.sh): the same app with Kestrel's own
            // transport pool. The slab allocator and its pools stay available to the demo's pages.
            builder.Services.AddSingleton(sp => new SlabAllocator(sp.GetRequiredService<Microsoft.Extensions.Options.IOptions<SlabPoolsOptions>>().Value));
            builder.Services.AddSingleton<System.Buffers.ArrayPool<byte>>(sp => sp.GetRequiredService<SlabAllocator>().ArrayPool);
            builder.Services.AddSingleton<System.Buffers.MemoryPool<byte>>(sp => sp.GetRequiredService<SlabAllocator>().MemoryPool);
            builder.Services.AddSingleton(sp => sp.GetRequiredService<SlabAllocator>().NativeBufferPool);
        }
        else
        {
            builder.Services.AddSlabPools();
        }

        builder.Services.AddSingleton<ReservedHistory>();
        builder.Services.AddSingleton<BurstRunner>();
        builder.Services.AddHostedService<HistorySampler>();

        WebApplication app = builder.Build();
        app.MapDemoEndpoints();
        return app;
    }
}
