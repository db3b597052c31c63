using System;
using System.Buffers;
using System.Linq;
using System.Runtime.CompilerServices;
using SlabPools.Pages;
using SlabPools.Tests.Infrastructure;
using Xunit;

namespace SlabPools.Tests.Reliability;

public class DisposalAndLeakTests
{
    [Fact]
    public unsafe void Disposing_with_buffers_out_keeps_them_valid_and_releases_each_slab_when_its_last_buffer_returns()
    {
        var pages = new NativePageAllocator();
        var allocator = new SlabAllocator { NativePages = pages };
        var owners = Enumerable.Range(0, 100).Select(_ => allocator.NativeBufferPool.Rent(4096)).ToList();
        nint raw = allocator.NativeBufferPool.Allocate(300);
        long mapped = pages.BytesInUse;

        allocator.Dispose();
        Assert.Equal(mapped, pages.BytesInUse);         // nothing unmapped under a live buffer
        foreach (IMemoryOwner<byte> o in owners)
        {
            o.Memory.Span.Fill(7);                        // still writable
        }

        Assert.Throws<ObjectDisposedException>(() => allocator.NativeBufferPool.Rent(4096));
        Assert.Throws<ObjectDisposedException>(() => allocator.ArrayPool.Rent(100));

        owners.Take(50).ToList().ForEach(o => o.Dispose());
        Assert.True(pages.BytesInUse < mapped);
        owners.Skip(50).ToList().ForEach(o => o.Dispose());
        allocator.NativeBufferPool.Free(raw);
        Assert.Equal(0, pages.BytesInUse);
        allocator.Dispose(); // twice is fine
    }

    [Fact]
    public void Disposing_twice_and_returning_arrays_after_dispose_is_safe()
    {
        var allocator = new SlabAllocator();
        byte[] a = allocator.ArrayPool.Rent(1000);
        allocator.Dispose();
        allocator.ArrayPool.Return(a);
        allocator.Dispose();
        Assert.All(allocator.GetInfo(), i => Assert.Equal(0, i.BytesReserved));
    }

    [Fact]
    public void With_tracking_disposal_lists_what_is_still_rented_with_allocation_stacks()
    {
        var allocator = new SlabAllocator(new SlabPoolsOptions { Debug = SlabDebugFlags.Track });
        SlabLeakReportEventArgs? report = null;
        allocator.LeaksDetected += (_, e) => report = e;
        IMemoryOwner<byte> kept = LeakOne(allocator);
        byte[] array = LeakArray(allocator);
        allocator.MemoryPool.Rent(100).Dispose();            // returned: not a leak
        Assert.Equal(2, allocator.GetOutstanding().Count);

        allocator.Dispose();
        Assert.NotNull(report);
        Assert.Equal(2, report!.Leaks.Count);
        Assert.Contains(report.Leaks, l => l.CacheName == "pinned-4096" && l.StackTrace.Contains(nameof(LeakOne), StringComparison.Ordinal));
        Assert.Contains(report.Leaks, l => l.CacheName == "array-512" && l.StackTrace.Contains(nameof(LeakArray), StringComparison.Ordinal));
        Assert.Contains("LEAK pinned-4096", report.Report);
        kept.Dispose();
        allocator.ArrayPool.Return(array);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static IMemoryOwner<byte> LeakOne(SlabAllocator allocator) => allocator.MemoryPool.Rent(4096);

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static byte[] LeakArray(SlabAllocator allocator) => allocator.ArrayPool.Rent(500);

    [Fact]
    public void Without_tracking_there_is_no_leak_list()
    {
        using var allocator = new SlabAllocator();
        using IMemoryOwner<byte> owner = allocator.MemoryPool.Rent();
        Assert.Empty(allocator.GetOutstanding());
    }
}
