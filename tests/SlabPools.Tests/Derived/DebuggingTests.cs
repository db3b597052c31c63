using System;
using System.Buffers;
using System.Linq;
using SlabPools.Pools;
using SlabPools.Tests.Infrastructure;
using Xunit;

namespace SlabPools.Tests.Derived;

public class DebuggingTests
{
    [Fact]
    public unsafe void Poison_reports_a_write_after_free_with_the_bytes_that_changed()
    {
        using var allocator = new SlabAllocator(new SlabPoolsOptions { Debug = SlabDebugFlags.Poison, Topology = new NodeTopology([0]) });
        var log = new ErrorLog(allocator);
        SlabCache cache = allocator.GetKmallocCache(128);
        Assert.Equal(SlabDebugFlags.Poison, cache.Debug);
        nint p = cache.Allocate();
        Assert.Equal(0x6b, *(byte*)(p + 5)); // fresh objects are poisoned too
        cache.Free(p);
        *(byte*)(p + 40) = 1;                // written after free
        *(byte*)(p + 41) = 2;
        var again = Enumerable.Range(0, cache.ObjectsPerSlab).Select(_ => cache.Allocate()).ToList();
        Assert.Contains(p, again);
        Assert.Equal(1, log.Count(SlabErrorKind.UseAfterFree));
        string message = log.Errors.Single().Message;
        Assert.StartsWith("BUG kmalloc-128: use after free: poison overwritten", message);
        Assert.Contains("bytes 40..41", message);
        Assert.Contains("Object 00000020:", message); // hex dump
        Assert.Contains("FIX kmalloc-128:", message);
    }

    [Fact]
    public unsafe void Red_zone_catches_a_write_past_the_requested_size_of_a_native_buffer()
    {
        using var allocator = new SlabAllocator(new SlabPoolsOptions { Debug = SlabDebugFlags.RedZone });
        var log = new ErrorLog(allocator);
        NativeBufferPool pool = allocator.NativeBufferPool;
        nint ok = pool.Allocate(100);
        new Span<byte>((void*)ok, 100).Fill(1);
        pool.Free(ok);
        Assert.Empty(log.Errors);

        nint p = pool.Allocate(100);
        *(byte*)(p + 100) = 9; // one past the end
        pool.Free(p);
        Assert.Equal(1, log.Count(SlabErrorKind.RedZoneOverwrite));
        Assert.Contains("bytes 100..100 past the requested 100 bytes", log.Errors[0].Message);

        // The pool carries on.
        nint q = pool.Allocate(100);
        pool.Free(q);
        Assert.Single(log.Errors);
    }

    [Fact]
    public void Track_puts_the_allocation_and_free_stacks_into_reports()
    {
        using var allocator = new SlabAllocator(new SlabPoolsOptions { Debug = SlabDebugFlags.Track });
        var log = new ErrorLog(allocator);
        IMemoryOwner<byte> owner = RentSomewhere(allocator.NativeBufferPool);
        FreeSomewhere(owner);
        FreeSomewhere(owner);
        string message = log.Errors.Single().Message;
        Assert.Contains("INFO: allocated by thread", message);
        Assert.Contains(nameof(RentSomewhere), message);
        Assert.Contains("INFO: freed by thread", message);
        Assert.Contains(nameof(FreeSomewhere), message);
    }

    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.NoInlining)]
    private static IMemoryOwner<byte> RentSomewhere(MemoryPool<byte> pool) => pool.Rent(4096);

    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.NoInlining)]
    private static void FreeSomewhere(IMemoryOwner<byte> owner) => owner.Dispose();

    [Fact]
    public void Track_on_the_array_pool_reports_where_the_array_was_rented_and_returned()
    {
        using var allocator = new SlabAllocator(new SlabPoolsOptions { Debug = SlabDebugFlags.Track });
        var log = new ErrorLog(allocator);
        byte[] a = RentArray(allocator.ArrayPool);
        ReturnArray(allocator.ArrayPool, a);
        ReturnArray(allocator.ArrayPool, a);
        string message = log.Errors.Single().Message;
        Assert.Contains(nameof(RentArray), message);
        Assert.Contains(nameof(ReturnArray), message);
    }

    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.NoInlining)]
    private static byte[] RentArray(ArrayPool<byte> pool) => pool.Rent(500);

    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.NoInlining)]
    private static void ReturnArray(ArrayPool<byte> pool, byte[] array) => pool.Return(array);

    [Fact]
    public void Plain_caches_keep_the_fast_path_and_debug_caches_leave_it()
    {
        using var plain = new SlabAllocator();
        Assert.False(plain.GetKmallocCache(64).IsDerived);
        using var debugging = new SlabAllocator(new SlabPoolsOptions { Debug = SlabDebugFlags.Poison });
        Assert.True(debugging.GetKmallocCache(64).IsDerived);
        Assert.True(plain.CreateCache("c", 64, new SlabCacheOptions { Constructor = _ => { } }).IsDerived);
        Assert.False(plain.CreateCache("m", 64, new SlabCacheOptions { Move = (_, _) => false }).IsDerived);
    }
}
