using System;
using System.Buffers;
using System.Linq;
using Microsoft.Extensions.Time.Testing;
using SlabPools.Pages;
using Xunit;

namespace SlabPools.Tests.Reclaim;

public class FlusherTests
{
    private static readonly TimeSpan Interval = TimeSpan.FromSeconds(10);

    private static long Reserved(SlabAllocator allocator) => allocator.GetInfo().Sum(i => i.BytesReserved);

    [Fact]
    public void An_idle_allocator_runs_no_timer_at_all()
    {
        var time = new FakeTimeProvider();
        using var allocator = new SlabAllocator(new SlabPoolsOptions { TimeProvider = time });
        _ = allocator.MemoryPool;
        _ = allocator.ArrayPool;
        time.Advance(TimeSpan.FromHours(1));
        Assert.Equal(0, allocator.FlusherTicks);
        Assert.Equal(0, allocator.ArmedFlushers);
    }

    [Theory]
    [InlineData("pinned")]
    [InlineData("native")]
    [InlineData("array")]
    public void After_a_burst_is_returned_reserved_bytes_fall_below_ten_percent_within_two_intervals(string pool)
    {
        var time = new FakeTimeProvider();
        var pages = new NativePageAllocator();
        using var allocator = new SlabAllocator(new SlabPoolsOptions { TimeProvider = time }) { NativePages = pages };
        const int burst = 10_000;
        Action release;
        if (pool == "array")
        {
            byte[][] arrays = Enumerable.Range(0, burst).Select(_ => allocator.ArrayPool.Rent(4096)).ToArray();
            release = () => Array.ForEach(arrays, a => allocator.ArrayPool.Return(a));
        }
        else
        {
            MemoryPool<byte> memoryPool = pool == "pinned" ? allocator.MemoryPool : allocator.NativeBufferPool;
            IMemoryOwner<byte>[] owners = Enumerable.Range(0, burst).Select(_ => memoryPool.Rent(4096)).ToArray();
            release = () => Array.ForEach(owners, o => o.Dispose());
        }

        long peak = Reserved(allocator);
        Assert.True(peak >= burst * 4096L);
        release();
        Assert.Equal(peak, Reserved(allocator)); // kept for the next burst until the flusher runs

        time.Advance(Interval);
        time.Advance(Interval);
        long after = Reserved(allocator);
        Assert.True(after <= peak / 10, $"reserved {after} of a {peak}-byte peak after two intervals");
        if (pool == "native")
        {
            Assert.True(pages.BytesInUse <= peak / 10, $"{pages.BytesInUse} bytes still mapped");
        }

        // Quiescent again: the flusher disarmed and no further callback runs.
        long ticks = allocator.FlusherTicks;
        time.Advance(TimeSpan.FromMinutes(10));
        Assert.Equal(ticks, allocator.FlusherTicks);
        Assert.Equal(0, allocator.ArmedFlushers);
    }

    [Fact]
    public void The_flusher_rearms_when_the_cache_is_used_again()
    {
        var time = new FakeTimeProvider();
        using var allocator = new SlabAllocator(new SlabPoolsOptions { TimeProvider = time, FlushInterval = TimeSpan.FromSeconds(5) });
        SlabCache cache = allocator.GetKmallocCache(512);
        void Burst()
        {
            var objects = Enumerable.Range(0, 2000).Select(_ => cache.Allocate()).ToList();
            objects.ForEach(cache.Free);
        }

        Burst();
        Assert.Equal(1, allocator.ArmedFlushers);
        time.Advance(TimeSpan.FromSeconds(30));
        Assert.Equal(0, allocator.ArmedFlushers);
        long ticks = allocator.FlusherTicks;
        Assert.InRange(ticks, 2, 3);

        Burst();
        Assert.Equal(1, allocator.ArmedFlushers);
        time.Advance(TimeSpan.FromSeconds(30));
        Assert.Equal(0, allocator.ArmedFlushers);
        Assert.Equal(0, cache.GetInfo().BytesReserved); // idle: every empty slab released
    }

    [Fact]
    public void A_flush_keeps_objects_in_use_intact()
    {
        var time = new FakeTimeProvider();
        using var allocator = new SlabAllocator(new SlabPoolsOptions { TimeProvider = time });
        SlabCache cache = allocator.GetKmallocCache(64);
        var live = Enumerable.Range(0, 5000).Select(_ => cache.Allocate()).ToList();
        unsafe
        {
            foreach (nint p in live)
            {
                *(long*)(p + 16) = p;
            }
        }

        var freed = live.Where((_, i) => i % 3 == 0).ToList();
        freed.ForEach(cache.Free);
        time.Advance(Interval);
        time.Advance(Interval);
        unsafe
        {
            foreach (nint p in live.Where((_, i) => i % 3 != 0))
            {
                Assert.Equal(p, *(long*)(p + 16));
            }
        }

        Assert.Equal(live.Count - freed.Count, cache.GetInfo().ActiveObjects);
    }

    [Theory]
    [InlineData("pinned", 1L << 20, 1)]
    [InlineData("array", 1L << 20, 1)]
    [InlineData("native", 1L << 20, 0)]   // pages unmapped when released; only the owners (~0.3 MiB here) are the GC's
    [InlineData("native", 64L << 10, 1)]  // ...and they count
    [InlineData("pinned", 0L, 0)]         // 0: never ask
    [InlineData("pinned", 1L << 30, 0)]   // less released than the threshold
    public void Released_managed_memory_asks_for_one_background_collection(string pool, long threshold, int expected)
    {
        var time = new FakeTimeProvider();
        using var allocator = new SlabAllocator(new SlabPoolsOptions { TimeProvider = time, CollectAfterRelease = threshold });
        int collections = 0;
        allocator.Collector = mode =>
        {
            Assert.Equal(SlabCollectionMode.Background, mode); // the default
            collections++;
        };

        for (int round = 0; round < 2; round++)
        {
            // 2,000 buffers of 4 KiB (8 MiB) rented and returned, then the flusher's two ticks.
            if (pool == "array")
            {
                byte[][] arrays = Enumerable.Range(0, 2_000).Select(_ => allocator.ArrayPool.Rent(4096)).ToArray();
                Array.ForEach(arrays, a => allocator.ArrayPool.Return(a));
            }
            else
            {
                MemoryPool<byte> memoryPool = pool == "native" ? allocator.NativeBufferPool : allocator.MemoryPool;
                IMemoryOwner<byte>[] owners = Enumerable.Range(0, 2_000).Select(_ => memoryPool.Rent(4096)).ToArray();
                Array.ForEach(owners, o => o.Dispose());
            }

            time.Advance(Interval);
            time.Advance(Interval);
            Assert.Equal(0, Reserved(allocator));

            // One request per burst at most: the second round comes a flush interval later and asks again.
            Assert.Equal(expected * (round + 1), collections);
            Assert.Equal(collections, allocator.InducedCollections);
        }
    }

    [Fact]
    public void A_negative_collection_threshold_is_refused()
    {
        var options = new SlabPoolsOptions { CollectAfterRelease = -1 };
        Assert.Contains(options.Validate(), e => e.Contains("CollectAfterRelease", StringComparison.Ordinal));
    }

    [Fact]
    public void An_unknown_collection_mode_is_refused()
    {
        var options = new SlabPoolsOptions { CollectionMode = (SlabCollectionMode)7 };
        Assert.Contains(options.Validate(), e => e.Contains("CollectionMode", StringComparison.Ordinal));
        Assert.Empty(new SlabPoolsOptions { CollectionMode = SlabCollectionMode.Aggressive }.Validate());
    }

    [Fact]
    public void An_aggressive_collection_waits_until_every_cache_is_idle()
    {
        var time = new FakeTimeProvider();
        using SlabAllocator allocator = AggressiveAllocator(time, out System.Collections.Generic.List<SlabCollectionMode> modes);

        // A burst of 8 MiB through the memory pool, returned: its cache releases it on its idle tick...
        Load(allocator, "pinned")(2_000);

        // ...while another cache (the array pool, 64 KiB arrays) stays busy, interval after interval,
        // past the slabs' release: no pause is imposed on a process at work.
        for (int tick = 0; tick < 4; tick++)
        {
            for (int i = 0; i < 100; i++)
            {
                allocator.ArrayPool.Return(allocator.ArrayPool.Rent(65536));
            }

            time.Advance(Interval);
            Assert.Empty(modes);
        }

        Assert.Equal(0, allocator.GetInfo().Where(i => i.Name.StartsWith("pinned-", StringComparison.Ordinal)).Sum(i => i.BytesReserved));

        // The busy cache goes quiet: its first idle tick is the last flusher to disarm, and asks.
        time.Advance(Interval);
        time.Advance(Interval);
        Assert.Equal(0, allocator.ArmedFlushers);
        Assert.Equal([SlabCollectionMode.Aggressive], modes);
        Assert.Equal(1, allocator.InducedCollections);

        // Nothing more released: nothing more asked, however long the process stays idle.
        time.Advance(TimeSpan.FromMinutes(10));
        Assert.Single(modes);
    }

    [Fact]
    public void After_a_burst_the_aggressive_collection_comes_at_the_idle_tick()
    {
        var time = new FakeTimeProvider();
        using SlabAllocator allocator = AggressiveAllocator(time, out System.Collections.Generic.List<SlabCollectionMode> modes);
        Load(allocator, "pinned")(2_000);

        // The busy tick keeps the slabs and notes the allocation count; nothing is rented before the
        // idle tick, which releases them and, the allocator having been quiet for an interval,
        // collects at once.
        time.Advance(Interval);
        Assert.Empty(modes);
        time.Advance(Interval);
        Assert.Equal(0, Reserved(allocator));
        Assert.Equal([SlabCollectionMode.Aggressive], modes);
    }

    [Fact]
    public void Releases_by_caches_out_of_phase_share_one_aggressive_collection_when_the_last_goes_idle()
    {
        var time = new FakeTimeProvider();
        using SlabAllocator allocator = AggressiveAllocator(time, out System.Collections.Generic.List<SlabCollectionMode> modes);

        // Two caches whose flushers tick five seconds apart: the pinned one releases its burst at its
        // idle tick (20 s) while the arrays' flusher is still armed, so nothing is collected yet; the
        // arrays' idle tick (25 s) releases theirs, and, nothing having been rented since the ticks
        // at 10 and 15 s, one collection takes both at once. (The clock moves five seconds at a time:
        // FakeTimeProvider runs every timer due within one Advance at the end time.)
        Load(allocator, "pinned")(2_000);
        time.Advance(TimeSpan.FromSeconds(5));
        Load(allocator, "array")(2_000);
        for (int i = 0; i < 3; i++)
        {
            time.Advance(TimeSpan.FromSeconds(5));
        }

        Assert.Equal(0, allocator.GetInfo().Where(i => i.Name.StartsWith("pinned-", StringComparison.Ordinal)).Sum(i => i.BytesReserved));
        Assert.True(allocator.ArmedFlushers > 0);
        Assert.Empty(modes);
        time.Advance(TimeSpan.FromSeconds(5));
        Assert.Equal(0, Reserved(allocator));
        Assert.Equal(0, allocator.ArmedFlushers);
        Assert.Equal([SlabCollectionMode.Aggressive], modes);
        time.Advance(TimeSpan.FromMinutes(5));
        Assert.Single(modes);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void A_slab_knows_the_managed_bytes_that_die_with_it(bool native)
    {
        using var allocator = new SlabAllocator();
        IMemoryOwner<byte> owner = (native ? (MemoryPool<byte>)allocator.NativeBufferPool : allocator.MemoryPool).Rent(4096);
        SlabCache cache = allocator.SnapshotCaches().OfType<SlabCache>().Single(c => c.ObjectSize == 4096 && c.PageAllocator.IsNative == native);
        long slabBytes = cache.SlabBytes;
        owner.Dispose();

        long managed = cache.ShrinkCore(flushMagazines: true, keepEmptySlabs: 0, agedOnly: false, out long managedBytes) > 0 ? managedBytes : -1;

        // Each slot's owners (two per slot, ~90 bytes each) and the slot array, at least; the array
        // of the slab itself when its pages are managed.
        long owners = managed - (native ? 0 : slabBytes);
        Assert.InRange(owners, cache.ObjectsPerSlab * 2 * 48L, cache.ObjectsPerSlab * 2 * 256L);
    }

    [Theory]
    [InlineData("pinned")]
    [InlineData("native")]
    [InlineData("array")]
    public void A_steady_load_keeps_its_memory_across_busy_ticks_instead_of_releasing_and_remaking_it(string pool)
    {
        var time = new FakeTimeProvider();
        using var allocator = new SlabAllocator(new SlabPoolsOptions { TimeProvider = time });
        Action<int> load = Load(allocator, pool);
        SlabCacheInfo Info() => allocator.GetInfo().Single(i => i.ObjectSize == 4096 && i.Name.StartsWith(pool + "-", StringComparison.Ordinal) && i.SlabsAllocated > 0);

        // The same 2,000 buffers' worth of traffic every interval: the caches' flushers tick while
        // the load runs and flush every per-thread cache back to the slabs each time.
        load(2_000);
        time.Advance(Interval);
        long made = Info().SlabsAllocated;
        for (int tick = 0; tick < 5; tick++)
        {
            load(2_000);
            time.Advance(Interval);
        }

        // Nothing the load used in each interval was released and made again.
        Assert.Equal(0, Info().SlabsFreed);
        Assert.Equal(made, Info().SlabsAllocated);

        // Once the load stops, the next ticks give everything back.
        time.Advance(Interval);
        time.Advance(Interval);
        Assert.Equal(0, Reserved(allocator));
    }

    [Theory]
    [InlineData("pinned")]
    [InlineData("array")]
    public void A_busy_cache_releases_what_it_has_not_used_for_a_whole_interval(string pool)
    {
        var time = new FakeTimeProvider();
        using var allocator = new SlabAllocator(new SlabPoolsOptions { TimeProvider = time });
        Action<int> load = Load(allocator, pool);

        load(4_000); // a burst (16 MiB)...
        time.Advance(Interval);
        long peak = Reserved(allocator);

        // ...then a trickle that keeps the cache busy: what the burst alone needed goes within two
        // busy ticks (the first finds it empty, the second finds it still untouched).
        for (int tick = 0; tick < 2; tick++)
        {
            load(20);
            time.Advance(Interval);
        }

        Assert.True(allocator.ArmedFlushers > 0, "the cache should still count as busy");
        Assert.InRange(Reserved(allocator), 0, peak / 10);
    }

    // An allocator that asks for aggressive collections after 1 MiB released, recording them instead.
    private static SlabAllocator AggressiveAllocator(FakeTimeProvider time, out System.Collections.Generic.List<SlabCollectionMode> modes)
    {
        var allocator = new SlabAllocator(new SlabPoolsOptions
        {
            TimeProvider = time,
            CollectAfterRelease = 1L << 20,
            CollectionMode = SlabCollectionMode.Aggressive,
        });
        var asked = new System.Collections.Generic.List<SlabCollectionMode>();
        allocator.Collector = asked.Add;
        modes = asked;
        return allocator;
    }

    // Rents and returns n buffers of 4 KiB through the pool, all held at once.
    private static Action<int> Load(SlabAllocator allocator, string pool) => n =>
    {
        if (pool == "array")
        {
            byte[][] arrays = Enumerable.Range(0, n).Select(_ => allocator.ArrayPool.Rent(4096)).ToArray();
            Array.ForEach(arrays, a => allocator.ArrayPool.Return(a));
            return;
        }

        MemoryPool<byte> memoryPool = pool == "native" ? allocator.NativeBufferPool : allocator.MemoryPool;
        IMemoryOwner<byte>[] owners = Enumerable.Range(0, n).Select(_ => memoryPool.Rent(4096)).ToArray();
        Array.ForEach(owners, o => o.Dispose());
    };
}
