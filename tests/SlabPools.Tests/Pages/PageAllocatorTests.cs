using System;
using System.Runtime.InteropServices;
using SlabPools.Pages;
using Xunit;

namespace SlabPools.Tests.Pages;

public class PageAllocatorTests
{
    [Fact]
    public unsafe void Pinned_blocks_are_arrays_whose_address_does_not_move()
    {
        var pages = new PinnedPageAllocator();
        PageBlock block = pages.Allocate(20_000);
        Assert.NotNull(block.Array);
        Assert.Equal(20_000, block.Array!.Length);
        Assert.False(pages.IsNative);
        GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
        fixed (byte* p = block.Array)
        {
            Assert.Equal(block.Address, (nint)p);
        }

        Assert.Equal(20_000, pages.BytesInUse);
        pages.Free(block);
        Assert.Equal(0, pages.BytesInUse);
    }

    [Fact]
    public unsafe void Native_blocks_are_page_aligned_writable_and_counted()
    {
        var pages = new NativePageAllocator();
        PageBlock block = pages.Allocate(10_000);
        Assert.True(pages.IsNative);
        Assert.Equal(0, block.Address % PageAllocator.PageSize);
        Assert.True(block.Length >= 10_000);
        new Span<byte>((void*)block.Address, 10_000).Fill(0xAB);
        Assert.Equal(0xAB, ((byte*)block.Address)[9_999]);
        Assert.Equal((long)block.Length, pages.BytesInUse);
        pages.Free(block);
        Assert.Equal(0, pages.BytesInUse);
        Assert.Equal(1, pages.BlocksFreed);
    }

    [Fact]
    public void Zero_length_is_refused()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new NativePageAllocator().Allocate(0));
    }

    [Fact]
    public void Budget_fails_cleanly_and_recovers_when_memory_comes_back()
    {
        var inner = new NativePageAllocator();
        int page = PageAllocator.PageSize;
        var budget = new BudgetPageAllocator(inner, 4L * page);
        PageBlock a = budget.Allocate((nuint)(3 * page));
        OutOfMemoryException e = Assert.Throws<OutOfMemoryException>(() => budget.Allocate((nuint)(2 * page)));
        Assert.Contains("budget", e.Message);
        Assert.Equal(3L * page, budget.BytesInUse);
        Assert.Equal(3L * page, inner.BytesInUse);
        PageBlock b = budget.Allocate((nuint)page);
        budget.Free(a);
        PageBlock c = budget.Allocate((nuint)(3 * page));
        budget.Free(b);
        budget.Free(c);
        Assert.Equal(0, inner.BytesInUse);
        Assert.Throws<ArgumentOutOfRangeException>(() => new BudgetPageAllocator(inner, 0));
    }

    [Fact]
    public void Budget_counts_what_the_inner_allocator_rounds_up_to()
    {
        var budget = new BudgetPageAllocator(new NativePageAllocator(), PageAllocator.PageSize);
        PageBlock a = budget.Allocate(1);
        Assert.Throws<OutOfMemoryException>(() => budget.Allocate(1));
        budget.Free(a);
        budget.Free(budget.Allocate(1));
    }

    [Fact]
    public void Reserve_serves_requests_when_the_inner_allocator_fails_and_refills_itself()
    {
        int page = PageAllocator.PageSize;
        var budget = new BudgetPageAllocator(new NativePageAllocator(), 4L * page);
        using var reserve = new ReservePageAllocator(budget, blocks: 2, blockSize: (nuint)page);
        Assert.Equal(2, reserve.ReserveAvailable);

        PageBlock a = reserve.Allocate((nuint)page);
        PageBlock b = reserve.Allocate((nuint)page); // budget now exhausted (2 reserve + 2 ordinary)
        PageBlock r1 = reserve.Allocate((nuint)page); // from the reserve
        PageBlock r2 = reserve.Allocate((nuint)page);
        Assert.Equal(2, reserve.ReserveHits);
        Assert.Equal(0, reserve.ReserveAvailable);
        Assert.Throws<OutOfMemoryException>(() => reserve.Allocate((nuint)page));
        Assert.Throws<OutOfMemoryException>(() => reserve.Allocate((nuint)(2 * page))); // larger than a reserve block

        reserve.Free(r1);
        Assert.Equal(1, reserve.ReserveAvailable);
        reserve.Free(a); // an ordinary block of the right size refills the reserve
        Assert.Equal(2, reserve.ReserveAvailable);
        reserve.Free(r2);
        reserve.Free(b);
        Assert.Equal(2, reserve.ReserveAvailable);
        Assert.Equal(2L * page, budget.BytesInUse);
    }

    [Fact]
    public void Reserve_that_cannot_be_allocated_keeps_nothing()
    {
        int page = PageAllocator.PageSize;
        var budget = new BudgetPageAllocator(new NativePageAllocator(), 2L * page);
        Assert.Throws<OutOfMemoryException>(() => new ReservePageAllocator(budget, blocks: 3, blockSize: (nuint)page));
        Assert.Equal(0, budget.BytesInUse);
    }
}
