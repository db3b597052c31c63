using System;
using System.Linq;
using SlabPools.Pools;
using SlabPools.Tests.Infrastructure;
using Xunit;

namespace SlabPools.Tests.Pools;

public class NativeBufferPoolTests
{
    [Fact]
    public unsafe void Pointer_api_allocates_from_kmalloc_classes_and_frees()
    {
        using var allocator = new SlabAllocator();
        NativeBufferPool pool = allocator.NativeBufferPool;
        nint p = pool.Allocate(100);
        Assert.Equal(104, pool.GetUsableSize(p));
        new Span<byte>((void*)p, 104).Fill(1);
        Assert.Equal(1, allocator.GetInfo().Single(i => i.Name == "kmalloc-104").ActiveObjects);
        pool.Free(p);
        Assert.Equal(0, allocator.GetInfo().Single(i => i.Name == "kmalloc-104").ActiveObjects);
    }

    [Fact]
    public unsafe void Large_pointer_allocations_get_pages_of_their_own()
    {
        var pages = new SlabPools.Pages.NativePageAllocator();
        using var allocator = new SlabAllocator { NativePages = pages };
        NativeBufferPool pool = allocator.NativeBufferPool;
        nint p = pool.Allocate(3 << 20);
        new Span<byte>((void*)p, 3 << 20).Fill(2);
        Assert.Equal(3 << 20, pool.GetUsableSize(p));
        Assert.Equal(3 << 20, pages.BytesInUse);
        pool.Free(p);
        Assert.Equal(0, pages.BytesInUse);
        Assert.Throws<ArgumentOutOfRangeException>(() => pool.Allocate(-1));
    }

    [Fact]
    public unsafe void Foreign_and_double_freed_pointers_are_reported()
    {
        using var allocator = new SlabAllocator();
        var log = new ErrorLog(allocator);
        NativeBufferPool pool = allocator.NativeBufferPool;
        byte* stack = stackalloc byte[32];
        pool.Free((nint)stack);
        Assert.Equal(1, log.Count(SlabErrorKind.ForeignObject));
        nint p = pool.Allocate(64);
        pool.Free(p);
        pool.Free(p);
        Assert.Equal(1, log.Count(SlabErrorKind.DoubleFree));
        using NativeMemoryOwner owner = pool.RentOwner(64);
        pool.Free(owner.Address); // an owner's buffer is not the pointer API's to free
        Assert.Equal(2, log.Count(SlabErrorKind.ForeignObject));
        nint big = pool.Allocate(2 << 20);
        pool.Free(big);
        pool.Free(big);
        Assert.Equal(3, log.Count(SlabErrorKind.ForeignObject));
    }

    [Fact]
    public unsafe void Native_owners_pin_for_free_and_give_their_address()
    {
        using var allocator = new SlabAllocator();
        using NativeMemoryOwner owner = allocator.NativeBufferPool.RentOwner(4096);
        using System.Buffers.MemoryHandle handle = owner.Memory.Pin();
        Assert.Equal(owner.Address, (nint)handle.Pointer);
        Assert.Equal(4096, owner.Length);
        Assert.Equal("native", allocator.GetInfo().Single(i => i.Name == "native-4096").Memory);
    }

    [Fact]
    public void Native_slabs_go_back_to_the_operating_system_on_shrink()
    {
        var pages = new SlabPools.Pages.NativePageAllocator();
        using var allocator = new SlabAllocator { NativePages = pages };
        var owners = Enumerable.Range(0, 1000).Select(_ => allocator.NativeBufferPool.Rent(4096)).ToList();
        Assert.True(pages.BytesInUse >= 1000 * 4096);
        owners.ForEach(o => o.Dispose());
        allocator.Shrink();
        Assert.Equal(0, pages.BytesInUse);
    }
}
