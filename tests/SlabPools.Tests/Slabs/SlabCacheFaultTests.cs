using System;
using System.Collections.Generic;
using SlabPools.Pages;
using SlabPools.Tests.Infrastructure;
using Xunit;

namespace SlabPools.Tests.Slabs;

public class SlabCacheFaultTests
{
    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    [InlineData(7)]
    public void The_nth_page_failing_surfaces_as_out_of_memory_and_the_cache_then_works(int failingCall)
    {
        var pages = new FailingPageAllocator(new NativePageAllocator(), call => call == failingCall);
        using var allocator = new SlabAllocator { NativePages = pages };
        SlabCache cache = allocator.GetKmallocCache(4096);
        var live = new List<nint>();
        int failures = 0;
        for (int i = 0; i < 10 * cache.ObjectsPerSlab; i++)
        {
            try
            {
                live.Add(cache.Allocate());
            }
            catch (OutOfMemoryException e)
            {
                failures++;
                Assert.Contains("injected failure", e.Message);
                Assert.Equal(live.Count, cache.GetInfo().ActiveObjects);
            }
        }

        Assert.Equal(1, failures);
        Assert.Equal(10 * cache.ObjectsPerSlab - 1, live.Count);
        Assert.Equal(live.Count, new HashSet<nint>(live).Count);
        Assert.Equal(live.Count, cache.GetInfo().ActiveObjects);
        live.ForEach(cache.Free);
        allocator.Shrink();
        Assert.Equal(0, pages.BytesInUse);
    }

    [Fact]
    public void A_budget_caps_a_cache_and_freed_memory_can_be_used_again()
    {
        var budget = new BudgetPageAllocator(new NativePageAllocator(), 4 * 64 * 1024);
        using var allocator = new SlabAllocator { NativePages = budget };
        SlabCache cache = allocator.GetKmallocCache(4096);
        var live = new List<nint>();
        Assert.Throws<OutOfMemoryException>((Action)(() =>
        {
            while (true)
            {
                live.Add(cache.Allocate());
            }
        }));
        Assert.Equal(4 * cache.ObjectsPerSlab * 64 * 1024 / cache.SlabBytes, live.Count);
        cache.Free(live[^1]);
        live.RemoveAt(live.Count - 1);
        live.Add(cache.Allocate());
        live.ForEach(cache.Free);
        Assert.Equal(0, cache.GetInfo().ActiveObjects);
    }
}
