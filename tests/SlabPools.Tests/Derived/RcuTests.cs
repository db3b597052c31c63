using System;
using System.Linq;
using System.Threading;
using SlabPools.Pages;
using SlabPools.Tests.Infrastructure;
using Xunit;

namespace SlabPools.Tests.Derived;

public class RcuTests
{
    [Fact]
    public unsafe void Slabs_are_not_unmapped_while_a_reader_is_inside_a_read_section()
    {
        var pages = new NativePageAllocator();
        using var allocator = new SlabAllocator { NativePages = pages };
        SlabCache cache = allocator.CreateCache("rcu", 256, new SlabCacheOptions { TypesafeByRcu = true });
        nint shared = cache.Allocate();
        *(long*)shared = 42;
        long mapped = pages.BytesInUse;

        using var inside = new ManualResetEventSlim();
        using var leave = new ManualResetEventSlim();
        long reads = 0, seen = 0;
        var reader = new Thread(() =>
        {
            using (allocator.Rcu.EnterReadSection())
            {
                nint p = Volatile.Read(ref shared); // a lock-free reader picked up the pointer
                inside.Set();
                while (!leave.IsSet)
                {
                    seen = *(long*)p;               // still mapped: the slab waits for us
                    reads++;
                    Thread.Yield();
                }
            }
        });
        reader.Start();
        inside.Wait();

        cache.Free(shared);
        cache.Shrink();                                  // the slab is empty: release is deferred
        Assert.True(allocator.Rcu.PendingCount >= 1);
        Assert.Equal(mapped, pages.BytesInUse);
        Assert.False(allocator.Rcu.Synchronize(TimeSpan.Zero)); // the reader is still inside
        Assert.Equal(mapped, pages.BytesInUse);

        leave.Set();
        Assert.True(reader.Join(TimeSpan.FromSeconds(30)));
        Assert.True(allocator.Rcu.Synchronize(TimeSpan.FromSeconds(30)));
        Assert.Equal(0, pages.BytesInUse);
        Assert.True(reads > 0);
        Assert.Equal(0, cache.GetInfo().BytesReserved);
    }

    [Fact]
    public void With_deferred_reuse_a_freed_object_is_not_handed_out_again_before_the_grace_period()
    {
        // One processor, so that every allocation can reach the object's slab (a slab active on
        // another processor would rightly be passed over).
        using var allocator = new SlabAllocator(new SlabPoolsOptions { Topology = new NodeTopology([0]) });
        SlabCache cache = allocator.CreateCache("rcu-reuse", 64, new SlabCacheOptions { DeferReuseByRcu = true });
        Assert.True(cache.TypesafeByRcu);
        nint a = cache.Allocate();
        using var inside = new ManualResetEventSlim();
        using var leave = new ManualResetEventSlim();
        var reader = new Thread(() =>
        {
            using (allocator.Rcu.EnterReadSection())
            {
                inside.Set();
                leave.Wait();
            }
        });
        reader.Start();
        inside.Wait();
        cache.Free(a);
        var during = Enumerable.Range(0, 2 * cache.ObjectsPerSlab).Select(_ => cache.Allocate()).ToList();
        Assert.DoesNotContain(a, during);
        leave.Set();
        Assert.True(reader.Join(TimeSpan.FromSeconds(30)));
        Assert.True(allocator.Rcu.Synchronize(TimeSpan.FromSeconds(30)));
        during.ForEach(cache.Free);
        Assert.True(allocator.Rcu.Synchronize(TimeSpan.FromSeconds(30)));
        var after = Enumerable.Range(0, 4 * cache.ObjectsPerSlab).Select(_ => cache.Allocate()).ToList();
        Assert.Contains(a, after);
    }

    [Fact]
    public void Double_free_of_an_object_waiting_for_its_grace_period_is_caught()
    {
        using var allocator = new SlabAllocator(new SlabPoolsOptions { Debug = SlabDebugFlags.ConsistencyChecks });
        var log = new ErrorLog(allocator);
        SlabCache cache = allocator.CreateCache("rcu-df", 64, new SlabCacheOptions { DeferReuseByRcu = true });
        nint a = cache.Allocate();
        cache.Free(a);
        cache.Free(a);
        Assert.Equal(1, log.Count(SlabErrorKind.DoubleFree));
    }

    [Fact]
    public void Read_sections_nest_and_synchronize_refuses_to_wait_for_itself()
    {
        using var allocator = new SlabAllocator();
        using (allocator.Rcu.EnterReadSection())
        {
            using (allocator.Rcu.EnterReadSection())
            {
                Assert.True(allocator.Rcu.InReadSection);
            }

            Assert.True(allocator.Rcu.InReadSection);
            Assert.Throws<InvalidOperationException>(() => allocator.Rcu.Synchronize(TimeSpan.FromSeconds(1)));
        }

        Assert.False(allocator.Rcu.InReadSection);
        Assert.True(allocator.Rcu.Synchronize(TimeSpan.FromSeconds(1)));
    }
}
