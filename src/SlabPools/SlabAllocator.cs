using System;
using System.Collections.Generic;
using System.Threading;
using SlabPools.Diagnostics;
using SlabPools.Pages;
using SlabPools.Pools;
using SlabPools.Slabs;

namespace SlabPools;

/// <summary>
/// The root of SlabPools: owns the slab caches (the kmalloc size classes and caches you create),
/// reports the errors they detect, and shows their state (<see cref="GetInfo"/>,
/// <see cref="FormatSlabInfo"/>).
/// </summary>
/// <remarks>
/// <para>Caches are created on first use; the size-class table (<see cref="SizeClasses"/>) is
/// generated up front, so finding a class is arithmetic.</para>
/// <para>Disposing the allocator returns idle caches' memory and makes further allocations throw
/// <see cref="ObjectDisposedException"/>. Objects still handed out stay valid; frees are still
/// accepted.</para>
/// </remarks>
public sealed class SlabAllocator : IDisposable
{
    private readonly SlabCache?[] _kmalloc = new SlabCache?[SizeClasses.Count];

    // Protects _caches (the list every cache of this allocator is on, in creation order) and the
    // lazily made pools.
    private readonly Lock _cachesLock = new();
    private readonly List<IObjectCache> _caches = new();
    private volatile bool _disposed;
    private SlabArrayPool? _arrayPool;
    private SlabMemoryPool? _memoryPool;
    private NativeBufferPool? _nativePool;

    /// <summary>Creates an allocator.</summary>
    /// <param name="options">Options; <see langword="null"/> for the defaults. The allocator keeps a copy.</param>
    /// <exception cref="ArgumentException">An option is out of range (the message lists every problem).</exception>
    public SlabAllocator(SlabPoolsOptions? options = null)
    {
        Options = (options ?? new SlabPoolsOptions()).Clone();
        Options.ThrowIfInvalid();
        Topology = Options.Topology ?? NodeTopology.SingleNode;
        Reporter = new ErrorReporter(Options.ThrowOnError) { Sender = this };
        Reporter.ErrorDetected += (sender, e) => ErrorDetected?.Invoke(sender, e);
    }

    /// <summary>
    /// Raised for every error a cache detects (double free, use after free, red-zone overwrite,
    /// foreign object), on the thread that detected it, after which the cache carries on (unless
    /// <see cref="SlabPoolsOptions.ThrowOnError"/> is set, in which case the report is also thrown).
    /// </summary>
    public event EventHandler<SlabErrorEventArgs>? ErrorDetected;

    /// <summary>The options in force (a copy of those given).</summary>
    public SlabPoolsOptions Options { get; }

    /// <summary>The memory-node layout.</summary>
    public NodeTopology Topology { get; }

    /// <summary>The page allocator of native caches (kmalloc classes and native caches you create).</summary>
    public PageAllocator NativePages { get; init; } = NativePageAllocator.Shared;

    /// <summary>The page allocator of pinned managed caches.</summary>
    public PageAllocator PinnedPages { get; init; } = PinnedPageAllocator.Shared;

    internal SlabMap Map { get; } = new();

    internal ErrorReporter Reporter { get; }

    /// <summary>Errors detected so far, of one kind.</summary>
    public long ErrorCount(SlabErrorKind kind) => Reporter.Count(kind);

    /// <summary>The native kmalloc cache that serves <paramref name="size"/> bytes (created on first use).</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="size"/> is negative or above <see cref="SizeClasses.MaxSize"/>.</exception>
    public SlabCache GetKmallocCache(int size)
    {
        int index = SizeClasses.IndexOf(size);
        if (size < 0 || index < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(size), size, $"kmalloc sizes run from 0 to {SizeClasses.MaxSize} bytes.");
        }

        return _kmalloc[index] ?? CreateKmallocCache(index);
    }

    private SlabCache CreateKmallocCache(int index)
    {
        lock (_cachesLock)
        {
            SlabCache? existing = _kmalloc[index];
            if (existing is not null)
            {
                return existing;
            }

            int size = SizeClasses.SizeAt(index);
            var cache = new SlabCache(this, SizeClasses.NameOf(size), size, NativePages, Options.Debug) { IsKmalloc = true };
            cache.Flusher = new Reclaim.CacheFlusher(cache, Options.TimeProvider, Options.FlushInterval);
            _caches.Add(cache);
            Volatile.Write(ref _kmalloc[index], cache);
            return cache;
        }
    }

    /// <summary>Creates a cache of objects of <paramref name="objectSize"/> bytes.</summary>
    /// <param name="name">A name for diagnostics.</param>
    /// <param name="objectSize">Bytes per object, at least 16; rounded up to a multiple of 8.</param>
    /// <param name="native"><see langword="true"/> for native memory, <see langword="false"/> for pinned managed memory.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="objectSize"/> is below 16 or larger than a slab can hold.</exception>
    public SlabCache CreateCache(string name, int objectSize, bool native = true)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        if (objectSize < 16 || objectSize > Array.MaxLength - 7)
        {
            throw new ArgumentOutOfRangeException(nameof(objectSize), objectSize, "Objects must be between 16 bytes and the largest array size.");
        }

        ThrowIfDisposed();
        int stride = (objectSize + 7) & ~7;
        var cache = new SlabCache(this, name, stride, native ? NativePages : PinnedPages, Options.Debug);
        Register(cache);
        return cache;
    }

    internal SlabCache CreateSlotCache(string name, int objectSize, PageAllocator pages, Func<Slab, int, object>? slotConstructor)
    {
        ThrowIfDisposed();
        var cache = new SlabCache(this, name, objectSize, pages, Options.Debug, slotConstructor);
        Register(cache);
        return cache;
    }

    internal void Register(IObjectCache cache)
    {
        cache.Flusher = new Reclaim.CacheFlusher(cache, Options.TimeProvider, Options.FlushInterval);
        lock (_cachesLock)
        {
            _caches.Add(cache);
        }
    }

    /// <summary>Flusher timer callbacks run so far, over all caches (for tests and diagnostics).</summary>
    internal long FlusherTicks
    {
        get
        {
            long ticks = 0;
            foreach (IObjectCache cache in SnapshotCaches())
            {
                ticks += cache.Flusher?.Ticks ?? 0;
            }

            return ticks;
        }
    }

    /// <summary>How many caches have their flusher armed now (0 when the process is idle).</summary>
    internal int ArmedFlushers
    {
        get
        {
            int armed = 0;
            foreach (IObjectCache cache in SnapshotCaches())
            {
                armed += cache.Flusher?.IsArmed == true ? 1 : 0;
            }

            return armed;
        }
    }

    internal IObjectCache[] SnapshotCaches()
    {
        lock (_cachesLock)
        {
            return _caches.ToArray();
        }
    }

    /// <summary>Other names that resolve to <paramref name="cache"/> (none until caches are merged).</summary>
    internal IReadOnlyList<string> AliasesOf(SlabCache cache) => [];

    /// <summary>
    /// The <see cref="System.Buffers.ArrayPool{T}"/> of this allocator: arrays of the size classes,
    /// pooled in the <c>array-&lt;size&gt;</c> caches.
    /// </summary>
    public SlabArrayPool ArrayPool => _arrayPool ?? CreatePool(ref _arrayPool, () => new SlabArrayPool(this));

    /// <summary>
    /// The <see cref="System.Buffers.MemoryPool{T}"/> of this allocator over pinned managed slabs
    /// (the <c>pinned-&lt;size&gt;</c> caches): for Kestrel, Pipelines and sockets.
    /// </summary>
    public SlabMemoryPool MemoryPool => _memoryPool ?? CreatePool(ref _memoryPool, () => new SlabMemoryPool(this));

    /// <summary>The native-memory pool of this allocator (the <c>native-&lt;size&gt;</c> and <c>kmalloc-&lt;size&gt;</c> caches).</summary>
    public NativeBufferPool NativeBufferPool => _nativePool ?? CreatePool(ref _nativePool, () => new NativeBufferPool(this));

    private T CreatePool<T>(ref T? field, Func<T> create)
        where T : class
    {
        lock (_cachesLock)
        {
            if (field is null)
            {
                Volatile.Write(ref field, create());
            }

            return field;
        }
    }

    /// <summary>A snapshot of every cache, in creation order.</summary>
    public IReadOnlyList<SlabCacheInfo> GetInfo()
    {
        IObjectCache[] caches = SnapshotCaches();
        var result = new SlabCacheInfo[caches.Length];
        for (int i = 0; i < caches.Length; i++)
        {
            result[i] = caches[i].GetInfo();
        }

        return result;
    }

    /// <summary>The state of every cache as a table in the manner of <c>/proc/slabinfo</c>.</summary>
    public string FormatSlabInfo() => SlabInfoFormatter.Format(GetInfo());

    /// <summary>Returns idle per-thread and per-CPU caches and releases every empty slab now.</summary>
    /// <returns>Bytes released to the page allocators.</returns>
    public long Shrink()
    {
        long bytes = 0;
        foreach (IObjectCache cache in SnapshotCaches())
        {
            bytes += cache.ShrinkCore(flushMagazines: true, keepEmptySlabs: 0);
        }

        return bytes;
    }

    internal void ThrowIfDisposed()
    {
        if (_disposed)
        {
            ThrowDisposed();
        }
    }

    private static void ThrowDisposed() => throw new ObjectDisposedException(nameof(SlabAllocator));

    /// <summary>Returns the memory of idle caches and refuses further allocations.</summary>
    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        foreach (IObjectCache cache in SnapshotCaches())
        {
            cache.Flusher?.Dispose();
        }

        Shrink();
    }
}
