using System;
using System.Collections.Generic;
using SlabPools;

namespace KestrelDemo.Api;

/// <summary>The document of <c>GET /api/caches</c>: every slab cache and the process, at one moment.</summary>
/// <param name="Timestamp">When the figures were read (UTC).</param>
/// <param name="FlushIntervalSeconds">The flusher's period (<see cref="SlabPoolsOptions.FlushInterval"/>).</param>
/// <param name="ReservedBytes">The sum of <see cref="SlabCacheInfo.BytesReserved"/> over the caches.</param>
/// <param name="ActiveBytes">Bytes handed out now: the sum of active objects times object size.</param>
/// <param name="Process">Figures of the whole process.</param>
/// <param name="Caches">Every cache, as <see cref="SlabAllocator.GetInfo"/> gives it.</param>
public sealed record CachesReport(
    DateTimeOffset Timestamp,
    double FlushIntervalSeconds,
    long ReservedBytes,
    long ActiveBytes,
    ProcessFigures Process,
    IReadOnlyList<SlabCacheInfo> Caches);
