using System;
using System.Collections.Generic;

namespace SlabPools;

/// <summary>Every knob of SlabPools in one place. Defaults are public constants.</summary>
public sealed class SlabPoolsOptions
{
    /// <summary>The default <see cref="FlushInterval"/>: 10 seconds, as in the seed.</summary>
    public static readonly TimeSpan DefaultFlushInterval = TimeSpan.FromSeconds(10);

    /// <summary>The default of <see cref="CollectAfterRelease"/>: 32 MiB.</summary>
    public const long DefaultCollectAfterRelease = 32L << 20;

    /// <summary>The default <see cref="TransportBlockSize"/>: 16 KiB.</summary>
    public const int DefaultTransportBlockSize = 16 << 10;

    /// <summary>The smallest <see cref="TransportBlockSize"/>: 4096 bytes, Kestrel's own block size.</summary>
    public const int MinTransportBlockSize = 4 << 10;

    /// <summary>The largest <see cref="TransportBlockSize"/>: 64 KiB.</summary>
    public const int MaxTransportBlockSize = 64 << 10;

    /// <summary>
    /// How often an active cache's flusher runs: it returns per-CPU slabs and per-thread caches to
    /// the partial lists and releases empty slabs: while the cache is busy, only those nobody used
    /// for a whole interval; once it has seen no activity for an interval, all of them, and it
    /// disarms its flusher, so an idle process runs no timer at all. Must be positive; timers count whole milliseconds, so
    /// anything shorter than a millisecond is taken as one.
    /// </summary>
    public TimeSpan FlushInterval { get; set; } = DefaultFlushInterval;

    /// <summary>The clock the flusher runs on. Inject a fake one in tests.</summary>
    public TimeProvider TimeProvider { get; set; } = TimeProvider.System;

    /// <summary>Debugging features for every cache the allocator creates.</summary>
    public SlabDebugFlags Debug { get; set; } = SlabDebugFlags.None;

    /// <summary>
    /// When <see langword="false"/> (the default) a detected error (double free, use after free,
    /// red-zone overwrite, foreign object) is reported through
    /// <see cref="SlabAllocator.ErrorDetected"/> and the pool carries on; when <see langword="true"/>
    /// the report also throws <see cref="SlabErrorException"/> (useful in tests).
    /// </summary>
    public bool ThrowOnError { get; set; }

    /// <summary>
    /// Zero every buffer and object when it is returned, so that one request's bytes can never be
    /// read by whoever rents the memory next. Costs a memory clear per return (measured in
    /// perf/RESULTS.md); off by default, as in <see cref="System.Buffers.ArrayPool{T}"/>.
    /// </summary>
    public bool ClearOnReturn { get; set; }

    /// <summary>
    /// Managed memory the flushers release (pinned slabs, pooled arrays, and the buffer owners of
    /// released slabs, native ones included) leaves the process only when the GC collects it. Once
    /// the flushers have released at least this many bytes of it, the allocator asks for a full
    /// collection of the kind <see cref="CollectionMode"/> names, at most once per
    /// <see cref="FlushInterval"/>, so that an idle service's memory falls without waiting for
    /// allocation pressure. 0 never asks. Native slabs' pages need no collection: they are
    /// unmapped when released.
    /// </summary>
    public long CollectAfterRelease { get; set; } = DefaultCollectAfterRelease;

    /// <summary>
    /// The collection <see cref="CollectAfterRelease"/> asks for. <see cref="SlabCollectionMode.Background"/>
    /// (the default) never pauses the process, but the GC keeps most of what it frees committed for
    /// reuse, so resident memory falls little; <see cref="SlabCollectionMode.Aggressive"/> gives that
    /// memory back to the operating system at the price of one blocking, compacting collection, and
    /// is asked for only once every cache of the allocator has gone idle.
    /// </summary>
    public SlabCollectionMode CollectionMode { get; set; } = SlabCollectionMode.Background;

    /// <summary>
    /// The block size of Kestrel's transport and of pipes: the pools made by
    /// <c>SlabMemoryPoolFactory</c> (which Kestrel's socket transport rents from) give a buffer of
    /// this size for <c>Rent()</c>, <c>Rent(-1)</c>, <c>Rent(0)</c> and any smaller request, and the
    /// <c>PipeOptions</c> registered by <c>AddSlabPools</c> use it as their minimum segment size.
    /// A multiple of 4096 from <see cref="MinTransportBlockSize"/> (4 KiB, the block of Kestrel's
    /// own pool) to <see cref="MaxTransportBlockSize"/> (64 KiB); default
    /// <see cref="DefaultTransportBlockSize"/> (16 KiB).
    /// </summary>
    /// <remarks>
    /// Kestrel's pipes ask for 4096 bytes whatever the pool, and every block is a pipe segment, a
    /// pool rent and return, and an entry of the socket's send or receive: larger blocks make fewer of
    /// each for the same bytes, which perf/RESULTS.md measures under load. The price is memory
    /// while a request is in flight: a connection that reads a small request or writes a small
    /// response holds one block for it until it is sent (nothing while it idles: Kestrel waits for
    /// data before it rents). Set 4096 to hold exactly what Kestrel's own pool holds.
    /// </remarks>
    public int TransportBlockSize { get; set; } = DefaultTransportBlockSize;

    /// <summary>
    /// The memory-node layout used for per-node partial lists. <see langword="null"/> means one
    /// node holding every processor, which costs nothing. Tests inject a fake layout here.
    /// </summary>
    public NodeTopology? Topology { get; set; }

    /// <summary>Checks every value and returns the problems found, in words a user can act on.</summary>
    public IReadOnlyList<string> Validate()
    {
        var errors = new List<string>();
        if (FlushInterval <= TimeSpan.Zero)
        {
            errors.Add($"SlabPools:FlushInterval must be positive (was {FlushInterval}).");
        }
        else if (FlushInterval > TimeSpan.FromDays(1))
        {
            errors.Add($"SlabPools:FlushInterval must be at most one day (was {FlushInterval}).");
        }

        if (TimeProvider is null)
        {
            errors.Add("SlabPools:TimeProvider must not be null.");
        }

        if (CollectAfterRelease < 0)
        {
            errors.Add($"SlabPools:CollectAfterRelease must be 0 (never) or a number of bytes (was {CollectAfterRelease}).");
        }

        if (CollectionMode is not (SlabCollectionMode.Background or SlabCollectionMode.Aggressive))
        {
            errors.Add($"SlabPools:CollectionMode must be Background or Aggressive (was {(int)CollectionMode}).");
        }

        if (TransportBlockSize < MinTransportBlockSize || TransportBlockSize > MaxTransportBlockSize || TransportBlockSize % MinTransportBlockSize != 0)
        {
            errors.Add($"SlabPools:TransportBlockSize must be a multiple of 4096 from 4096 to 65536 bytes (was {TransportBlockSize}).");
        }

        if ((Debug & ~SlabDebugFlags.All) != 0)
        {
            errors.Add($"SlabPools:Debug has unknown flags ({(int)Debug}); use None, ConsistencyChecks, RedZone, Poison, Track or All.");
        }

        return errors;
    }

    /// <summary>Throws <see cref="ArgumentException"/> listing every problem <see cref="Validate"/> finds.</summary>
    public void ThrowIfInvalid()
    {
        IReadOnlyList<string> errors = Validate();
        if (errors.Count > 0)
        {
            throw new ArgumentException("Invalid SlabPools options: " + string.Join(" ", errors));
        }
    }

    internal SlabPoolsOptions Clone() => (SlabPoolsOptions)MemberwiseClone();
}

/// <summary>The collection SlabPools asks the GC for once its flushers have released enough managed memory (<see cref="SlabPoolsOptions.CollectAfterRelease"/>).</summary>
public enum SlabCollectionMode
{
    /// <summary>
    /// A background full collection (<c>GC.Collect(2, GCCollectionMode.Forced, blocking: false)</c>):
    /// no pause beyond the GC's usual short ones. The GC frees the released memory for the process to
    /// reuse, but keeps most of it committed, so resident memory (RSS) falls little.
    /// </summary>
    Background = 0,

    /// <summary>
    /// A blocking, compacting full collection that decommits what it frees
    /// (<c>GC.Collect(2, GCCollectionMode.Aggressive, blocking: true, compacting: true)</c>), asked for
    /// only when every cache of the allocator has gone idle (no flusher armed), so that it does not
    /// pause a service under load. Resident memory falls to about what is live. The pause grows with
    /// the live managed heap; for services that go idle between bursts (batch work, scale-to-zero,
    /// many processes sharing a host).
    /// </summary>
    Aggressive = 1,
}
