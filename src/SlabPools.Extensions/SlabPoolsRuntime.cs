using System;
using System.Diagnostics.Metrics;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using SlabPools.Extensions.Logging;
using SlabPools.Extensions.Metrics;

namespace SlabPools.Extensions;

/// <summary>
/// What <c>AddSlabPools</c> puts in a container, built once: the allocator (from the validated
/// options), the memory pool factory, the meters, and the logging of detected errors. Disposed
/// with the container, it unhooks the logging, disposes the meters it made and the allocator.
/// </summary>
internal sealed class SlabPoolsRuntime : IDisposable
{
    private readonly ILogger _logger;

    internal SlabPoolsRuntime(SlabPoolsOptions options, TimeProvider? containerClock, ILoggerFactory? loggerFactory, IMeterFactory? meterFactory)
    {
        if (containerClock is not null && ReferenceEquals(options.TimeProvider, TimeProvider.System))
        {
            options = options.Clone();
            options.TimeProvider = containerClock;
        }

        Allocator = new SlabAllocator(options);
        MemoryPoolFactory = new SlabMemoryPoolFactory(Allocator);
        _logger = loggerFactory?.CreateLogger(SlabPoolsLog.Category) ?? NullLogger.Instance;
        Metrics = new SlabPoolsMetrics(Allocator, meterFactory);
        MemoryPoolMetrics = new KestrelMemoryPoolMetrics(MemoryPoolFactory, meterFactory);
        Allocator.ErrorDetected += OnErrorDetected;
    }

    internal SlabAllocator Allocator { get; }

    internal SlabMemoryPoolFactory MemoryPoolFactory { get; }

    internal SlabPoolsMetrics Metrics { get; }

    internal KestrelMemoryPoolMetrics MemoryPoolMetrics { get; }

    internal static SlabPoolsRuntime Create(IServiceProvider services) =>
        new(
            services.GetRequiredService<IOptions<SlabPoolsOptions>>().Value,
            services.GetService<TimeProvider>(),
            services.GetService<ILoggerFactory>(),
            services.GetService<IMeterFactory>());

    private void OnErrorDetected(object? sender, SlabErrorEventArgs e)
    {
        Metrics.CountError(e);
        SlabPoolsLog.ErrorDetected(_logger, e.Kind, e.CacheName, e.Message);
    }

    public void Dispose()
    {
        Allocator.ErrorDetected -= OnErrorDetected;
        MemoryPoolMetrics.Dispose();
        Metrics.Dispose();
        Allocator.Dispose();
    }
}
