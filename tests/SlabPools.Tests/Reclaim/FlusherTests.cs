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
    [InlineData("native", 1L << 20, 0)]   // unmapped when released: nothing for a GC to do
    [InlineData("pinned", 0L, 0)]         // 0: never ask
    [InlineData("pinned", 1L << 30, 0)]   // less released than the threshold
    public void Released_managed_memory_asks_for_one_background_collection(string pool, long threshold, int expected)
    {
        var time = new FakeTimeProvider();
        using var allocator = new SlabAllocator(new SlabPoolsOptions { TimeProvider = time, CollectAfterRelease = threshold });
        int collections = 0;
        allocator.Collector = () => collections++;

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
}
