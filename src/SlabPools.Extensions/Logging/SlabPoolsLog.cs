using System;
using Microsoft.Extensions.Logging;

namespace SlabPools.Extensions.Logging;

/// <summary>The log messages of SlabPools (source-generated: no boxing, no reflection, fine under AOT).</summary>
internal static partial class SlabPoolsLog
{
    /// <summary>The category of every SlabPools log message.</summary>
    internal const string Category = "SlabPools";

    [LoggerMessage(EventId = 1, EventName = "SlabErrorDetected", Level = LogLevel.Error, Message = "SlabPools detected {Kind} in cache {CacheName}:\n{Report}")]
    internal static partial void ErrorDetected(ILogger logger, SlabErrorKind kind, string cacheName, string report);

    [LoggerMessage(EventId = 2, EventName = "KestrelTransportServed", Level = LogLevel.Information,
        Message = "SlabPools gave its memory pool factory to {TransportOptions} in place of Kestrel's {ReplacedFactory}: AddSlabPools ran before Kestrel was added, so the container resolves Kestrel's factory. Call AddSlabPools after Kestrel is added to have the container resolve SlabPools' factory too.")]
    internal static partial void KestrelTransportServed(ILogger logger, string transportOptions, string replacedFactory);

    [LoggerMessage(EventId = 3, EventName = "KestrelTransportNotServed", Level = LogLevel.Warning,
        Message = "SlabPools does not serve Kestrel's {TransportOptions}: it uses {Factory}, registered after AddSlabPools. Remove that registration, or call AddSlabPools after it, for SlabPools to serve Kestrel.")]
    internal static partial void KestrelTransportNotServed(ILogger logger, string transportOptions, string factory);

    [LoggerMessage(EventId = 4, EventName = "KestrelTransportUnreachable", Level = LogLevel.Warning,
        Message = "SlabPools could not give its memory pool factory to {TransportOptions} (this Kestrel version has no MemoryPoolFactory property there), so Kestrel uses its own pool. Call AddSlabPools after Kestrel is added (after WebApplication.CreateBuilder, or after ConfigureWebHostDefaults in a generic host).")]
    internal static partial void KestrelTransportUnreachable(ILogger logger, string transportOptions, Exception exception);
}
