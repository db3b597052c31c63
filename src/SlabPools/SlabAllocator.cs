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
/// <see cref="ObjectDisposedException"/>. Objects still handed out stay valid and may still be
/// returned: a slab is released when its last object comes back, so native memory is never unmapped
/// under a buffer in use.</para>
/// </remarks>
public sealed class SlabAllocator : IDisposable, Reclaim.IFlushListener
{
    private readonly SlabCache?[] _kmalloc = new SlabCache?[SizeClasses.Count];

    // Protects _caches (the list every cache of this allocator is on, in creation order) and the
    // lazily made pools.
    private readonly Lock _cachesLock = new();
    private readonly List<IObjectCache> _caches = new();
    private volatile bool _disposed;
    private readonly Dictionary<SlabCache, List<string>> _aliases = new();
    private readonly Dictionary<(int Index, int Alignment), SlabCache> _aligned = new();
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

    /// <summary>
    /// Raised by <see cref="Dispose"/> when <see cref="SlabDebugFlags.Track"/> is on and objects are
    /// still handed out: each with the stack trace of its allocation (a leak report).
    /// </summary>
    public event EventHandler<SlabLeakReportEventArgs>? LeaksDetected;

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
            return _kmalloc[index] ?? CreateKmallocCacheUnsynchronized(index);
        }
    }

    // Caller holds _cachesLock.
    private SlabCache CreateKmallocCacheUnsynchronized(int index)
    {
        int size = SizeClasses.SizeAt(index);
        var cache = new SlabCache(this, SizeClasses.NameOf(size), size, NativePages, Options.Debug) { IsKmalloc = true };
        cache.Flusher = NewFlusher(cache);
        _caches.Add(cache);
        Volatile.Write(ref _kmalloc[index], cache);
        return cache;
    }

    /// <summary>Creates a plain cache of objects of <paramref name="objectSize"/> bytes (or returns a compatible existing one, see the other overload).</summary>
    /// <param name="name">A name for diagnostics.</param>
    /// <param name="objectSize">Bytes per object.</param>
    /// <param name="native"><see langword="true"/> for native memory, <see langword="false"/> for pinned managed memory.</param>
    public SlabCache CreateCache(string name, int objectSize, bool native = true) =>
        CreateCache(name, objectSize, new SlabCacheOptions { Native = native });

    /// <summary>
    /// Creates a cache of objects of <paramref name="objectSize"/> bytes. A plain cache (no
    /// constructor, destructor, RCU, debugging or move callback) whose size is within 8 bytes below
    /// an existing plain cache of the same memory kind and alignment is merged into it: that cache
    /// is returned and <paramref name="name"/> becomes one of its aliases (shown in
    /// <see cref="FormatSlabInfo"/>), as SLUB merges caches.
    /// </summary>
    /// <param name="name">A name for diagnostics.</param>
    /// <param name="objectSize">Bytes per object, at least 1.</param>
    /// <param name="options">How the cache is derived from a plain one; <see langword="null"/> for a plain native cache.</param>
    /// <exception cref="ArgumentOutOfRangeException">A size or option is out of range.</exception>
    /// <exception cref="ObjectDisposedException">The allocator was disposed.</exception>
    public SlabCache CreateCache(string name, int objectSize, SlabCacheOptions? options)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        options ??= new SlabCacheOptions();
        options.Validate();
        if (objectSize < 1 || objectSize > Array.MaxLength / 2)
        {
            throw new ArgumentOutOfRangeException(nameof(objectSize), objectSize, "Objects must be between 1 byte and half the largest array size.");
        }

        ThrowIfDisposed();
        SlabDebugFlags debug = options.Debug ?? Options.Debug;
        bool mergeable = options.AllowMerge && !options.IsDerived(debug) && options.Move is null;
        lock (_cachesLock)
        {
            if (mergeable && FindMergeTargetUnsynchronized(objectSize, options) is SlabCache target)
            {
                if (!_aliases.TryGetValue(target, out List<string>? names))
                {
                    _aliases[target] = names = new List<string>();
                }

                names.Add(name);
                return target;
            }
        }

        var cache = new SlabCache(this, name, objectSize, options.Native ? NativePages : PinnedPages, debug, null, options);
        Register(cache);
        return cache;
    }

    // Caller holds _cachesLock. SLUB's rule: no constructor, debugging or RCU on either side, the
    // sizes differ by less than a pointer, and the alignment fits.
    private SlabCache? FindMergeTargetUnsynchronized(int objectSize, SlabCacheOptions options)
    {
        int size8 = (objectSize + 7) & ~7;
        if (options.Native && options.Alignment == 8)
        {
            int index = SizeClasses.IndexOf(objectSize);
            if (index >= 0 && SizeClasses.SizeAt(index) - objectSize < IntPtr.Size && Options.Debug == SlabDebugFlags.None)
            {
                return _kmalloc[index] ?? CreateKmallocCacheUnsynchronized(index);
            }
        }

        foreach (IObjectCache existing in _caches)
        {
            if (existing is SlabCache c && !c.IsDerived && c.Move is null && !c.IsKmalloc && c.Options is not null
                && c.PageAllocator.IsNative == options.Native && c.Alignment == options.Alignment
                && c.ObjectSize >= size8 && c.ObjectSize - objectSize < IntPtr.Size)
            {
                return c;
            }
        }

        return null;
    }

    /// <summary>
    /// The native cache for <paramref name="size"/>-byte objects aligned to <paramref name="alignment"/>
    /// (4096 by default, for O_DIRECT-style I/O), created on first use: <c>dma-kmalloc-&lt;size&gt;</c>
    /// for 4096, <c>kmalloc-&lt;size&gt;-a&lt;alignment&gt;</c> otherwise.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">The size is out of the size classes, or the alignment is not a power of two from 8 to 4096.</exception>
    public SlabCache GetAlignedCache(int size, int alignment = 4096)
    {
        int index = SizeClasses.IndexOf(size);
        if (size < 0 || index < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(size), size, $"Sizes run from 0 to {SizeClasses.MaxSize} bytes.");
        }

        var options = new SlabCacheOptions { Alignment = alignment };
        options.Validate();
        lock (_cachesLock)
        {
            if (_aligned.TryGetValue((index, alignment), out SlabCache? cache))
            {
                return cache;
            }
        }

        ThrowIfDisposed();
        int classSize = SizeClasses.SizeAt(index);
        string name = alignment == 4096
            ? "dma-kmalloc-" + classSize.ToString(System.Globalization.CultureInfo.InvariantCulture)
            : $"kmalloc-{classSize}-a{alignment}";
        lock (_cachesLock)
        {
            if (!_aligned.TryGetValue((index, alignment), out SlabCache? cache))
            {
                cache = new SlabCache(this, name, classSize, NativePages, Options.Debug, null, options);
                cache.Flusher = NewFlusher(cache);
                _caches.Add(cache);
                _aligned[(index, alignment)] = cache;
            }

            return cache;
        }
    }

    internal SlabCache CreateSlotCache(string name, int objectSize, PageAllocator pages, Func<Slab, int, object>? slotConstructor)
    {
        ThrowIfDisposed();
        var cache = new SlabCache(this, name, objectSize, pages, Options.Debug, slotConstructor);
        Register(cache);
        return cache;
    }

    /// <summary>A flusher for <paramref name="cache"/> on this allocator's clock and interval, reporting to it.</summary>
    private Reclaim.CacheFlusher NewFlusher(IObjectCache cache) => new(cache, Options.TimeProvider, Options.FlushInterval, this);

    internal void Register(IObjectCache cache)
    {
        cache.Flusher = NewFlusher(cache);
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

    /// <summary>Other names that resolve to <paramref name="cache"/> (caches merged into it).</summary>
    internal IReadOnlyList<string> AliasesOf(SlabCache cache)
    {
        lock (_cachesLock)
        {
            return _aliases.TryGetValue(cache, out List<string>? names) ? names.ToArray() : [];
        }
    }

    /// <summary>Read-copy-update grace periods for caches created with <see cref="SlabCacheOptions.TypesafeByRcu"/>.</summary>
    public SlabRcu Rcu { get; } = new();

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
            bytes += cache.ShrinkCore(flushMagazines: true, keepEmptySlabs: 0, agedOnly: false, out _);
        }

        return bytes;
    }

    internal bool IsDisposed => _disposed;

    // Managed bytes (pinned slabs, pooled arrays) the flushers released since the last collection
    // asked for, and when that was (TimeProvider timestamp; 0: never).
    private long _managedReleased;
    private long _lastCollection;
    private long _inducedCollections;

    /// <summary>What asks the GC for a collection of the given kind (tests replace it to count the requests).</summary>
    internal Action<SlabCollectionMode> Collector { get; set; } = static mode =>
    {
        if (mode == SlabCollectionMode.Aggressive)
        {
            GC.Collect(2, GCCollectionMode.Aggressive, blocking: true, compacting: true);
        }
        else
        {
            GC.Collect(2, GCCollectionMode.Forced, blocking: false, compacting: false);
        }
    };

    /// <summary>Collections asked for after flushers released managed memory (see <see cref="SlabPoolsOptions.CollectAfterRelease"/>).</summary>
    internal long InducedCollections => Interlocked.Read(ref _inducedCollections);

    /// <summary>
    /// Called by a flusher that released <paramref name="bytes"/> of managed memory. Such memory
    /// leaves the process only when the GC collects it; once enough has been released, ask for a
    /// collection (see <see cref="TryCollect"/>).
    /// </summary>
    void Reclaim.IFlushListener.ManagedReleased(long bytes)
    {
        if (Options.CollectAfterRelease > 0)
        {
            Interlocked.Add(ref _managedReleased, bytes);
            TryCollect();
        }
    }

    /// <summary>A flusher went idle: an aggressive collection waiting for the whole allocator to be idle may be due.</summary>
    void Reclaim.IFlushListener.WentIdle()
    {
        if (Options.CollectionMode == SlabCollectionMode.Aggressive)
        {
            TryCollect();
        }
    }

    private bool ReleasedEnough()
    {
        long threshold = Options.CollectAfterRelease;
        return threshold > 0 && Interlocked.Read(ref _managedReleased) >= threshold;
    }

    /*
     * When the collection is asked for
     * --------------------------------
     * Background: as soon as CollectAfterRelease bytes have been released (at most once per flush
     * interval). Aggressive (a blocking collection): only when the allocator is idle, which the
     * flushers alone cannot tell: a flusher disarms when its cache stops reaching the slab layer,
     * and a busy cache served from per-thread caches never does. So, once enough is released and
     * no flusher is armed, the allocator compares every cache's allocation count (fast and slow)
     * with the one sampled at the flusher ticks: unchanged for at least an interval (the usual
     * case after a burst: the busy tick samples, the idle tick releases) means quiet, and the
     * collection runs at once. Otherwise it samples and looks again one flush interval later (one
     * timer, _idleCheck); the collection runs then only if nothing was allocated in between and
     * still no flusher is armed, otherwise it samples and waits again. _collectLock guards
     * _idleCheck, _pendingSignature (-1: no check pending) and the tick sample; the collection
     * itself runs outside it.
     */
    private readonly Lock _collectLock = new();
    private ITimer? _idleCheck;
    private long _pendingSignature = -1;
    private long _tickSignature = -1;   // the allocation count at the flusher ticks, and since when (timestamp)
    private long _tickSignatureTime;

    /// <summary>Asks for a collection if one is due (see the comment above).</summary>
    private void TryCollect()
    {
        if (!ReleasedEnough())
        {
            return;
        }

        if (Options.CollectionMode != SlabCollectionMode.Aggressive)
        {
            Collect(SlabCollectionMode.Background);
            return;
        }

        bool quiet;
        lock (_collectLock)
        {
            if (_disposed || _pendingSignature != -1 || ArmedFlushers > 0)
            {
                return; // a check is pending, or a busy cache's flusher will call again when it idles
            }

            // Quiet since a flusher tick at least an interval ago (the usual case after a burst:
            // the busy tick sampled, the idle tick released): no need to wait another interval.
            long signature = AllocationSignature();
            quiet = signature == _tickSignature && QuietLongEnough(_tickSignatureTime);
            if (!quiet)
            {
                _pendingSignature = signature;
                _idleCheck ??= Options.TimeProvider.CreateTimer(static s => ((SlabAllocator)s!).IdleCheck(), this, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
                _idleCheck.Change(Options.FlushInterval, Timeout.InfiniteTimeSpan);
            }
        }

        if (quiet)
        {
            Collect(SlabCollectionMode.Aggressive);
        }
    }

    /// <summary>
    /// A flusher is about to tick. In aggressive mode, remember the allocation count and since
    /// when it has not moved, so that the tick that releases memory and idles can tell at once
    /// whether nothing was rented for a whole interval.
    /// </summary>
    void Reclaim.IFlushListener.Ticking()
    {
        if (Options.CollectionMode != SlabCollectionMode.Aggressive || Options.CollectAfterRelease <= 0)
        {
            return;
        }

        lock (_collectLock)
        {
            long signature = AllocationSignature();
            if (signature != _tickSignature)
            {
                _tickSignature = signature;
                _tickSignatureTime = Options.TimeProvider.GetTimestamp();
            }
        }
    }

    // Timers may fire a little early against the clock the timestamps come from: nine tenths of an
    // interval count as one.
    private bool QuietLongEnough(long since) =>
        since != 0 && Options.TimeProvider.GetElapsedTime(since) >= Options.FlushInterval * 0.9;

    private void IdleCheck()
    {
        lock (_collectLock)
        {
            if (_disposed || _pendingSignature == -1)
            {
                return;
            }

            if (!ReleasedEnough())
            {
                _pendingSignature = -1;
                return;
            }

            long signature = AllocationSignature();
            if (signature != _pendingSignature || ArmedFlushers > 0)
            {
                _pendingSignature = signature; // still at work: look again an interval later
                _idleCheck!.Change(Options.FlushInterval, Timeout.InfiniteTimeSpan);
                return;
            }

            _pendingSignature = -1;
        }

        Collect(SlabCollectionMode.Aggressive);
    }

    /// <summary>Allocations of every cache so far, fast and slow (changes whenever anything is rented).</summary>
    private long AllocationSignature()
    {
        long sum = 0;
        foreach (IObjectCache cache in SnapshotCaches())
        {
            SlabCacheInfo info = cache.GetInfo();
            sum += info.FastAllocations + info.SlowAllocations;
        }

        return sum & long.MaxValue; // never -1
    }

    /// <summary>Asks for one collection, at most once per flush interval.</summary>
    private void Collect(SlabCollectionMode mode)
    {
        long last = Interlocked.Read(ref _lastCollection);
        long now = Options.TimeProvider.GetTimestamp();
        if (last != 0 && Options.TimeProvider.GetElapsedTime(last, now) < Options.FlushInterval)
        {
            return; // the next release after the interval asks
        }

        if (Interlocked.CompareExchange(ref _lastCollection, now == 0 ? 1 : now, last) != last)
        {
            return; // another flusher asked just now
        }

        Interlocked.Exchange(ref _managedReleased, 0);
        Interlocked.Increment(ref _inducedCollections);
        Collector(mode);
    }

    /// <summary>
    /// Objects handed out and not given back, with where they were allocated. Needs
    /// <see cref="SlabDebugFlags.Track"/> (empty otherwise).
    /// </summary>
    public IReadOnlyList<SlabLeak> GetOutstanding()
    {
        var leaks = new List<SlabLeak>();
        foreach (IObjectCache cache in SnapshotCaches())
        {
            switch (cache)
            {
                case SlabCache c when c.Behavior is not null:
                    foreach (Derived.DerivedBehavior b in c.Behavior is Derived.CompositeBehavior composite ? composite.Parts : [c.Behavior])
                    {
                        if (b is Derived.TrackBehavior track)
                        {
                            foreach ((nint address, string stack, DateTime time) in track.Outstanding())
                            {
                                leaks.Add(new SlabLeak(c.Name, address, time, stack));
                            }
                        }
                    }

                    break;
                case ArraySlabCache a:
                    foreach ((string stack, DateTime time) in a.Outstanding())
                    {
                        leaks.Add(new SlabLeak(a.Name, 0, time, stack));
                    }

                    break;
            }
        }

        leaks.Sort((x, y) => x.AllocatedAt.CompareTo(y.AllocatedAt));
        return leaks;
    }

    /// <summary>The outstanding objects as text: a LEAK line per object, then its allocation stack.</summary>
    public string FormatOutstanding() => FormatLeaks(GetOutstanding());

    private static string FormatLeaks(IReadOnlyList<SlabLeak> leaks)
    {
        var sb = new System.Text.StringBuilder();
        foreach (SlabLeak leak in leaks)
        {
            sb.Append(System.Globalization.CultureInfo.InvariantCulture, $"LEAK {leak.CacheName}: object 0x{leak.Address:x} allocated at {leak.AllocatedAt:O} was never freed\n");
            sb.Append(Derived.TrackBehavior.Indent(leak.StackTrace));
        }

        return sb.ToString();
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
        if ((Options.Debug & SlabDebugFlags.Track) != 0 && LeaksDetected is not null)
        {
            IReadOnlyList<SlabLeak> leaks = GetOutstanding();
            if (leaks.Count > 0)
            {
                LeaksDetected(this, new SlabLeakReportEventArgs(leaks, FormatLeaks(leaks)));
            }
        }

        foreach (IObjectCache cache in SnapshotCaches())
        {
            cache.Flusher?.Dispose();
            cache.Close();
        }

        lock (_collectLock)
        {
            _idleCheck?.Dispose();
            _idleCheck = null;
        }
    }
}
