using System;
using System.Buffers;
using Xunit;

namespace SlabPools.Tests.Reliability;

/// <summary>With ClearOnReturn no byte of one user's buffer reaches the next user.</summary>
public class ClearOnReturnTests
{
    private static SlabAllocator Clearing(SlabDebugFlags debug = SlabDebugFlags.None) =>
        new(new SlabPoolsOptions { ClearOnReturn = true, Debug = debug, Topology = new NodeTopology([0]) });

    [Theory]
    [InlineData(SlabDebugFlags.None)]
    [InlineData(SlabDebugFlags.ConsistencyChecks)]
    public void Memory_pool_buffers_come_back_zeroed(SlabDebugFlags debug)
    {
        using SlabAllocator allocator = Clearing(debug);
        foreach (MemoryPool<byte> pool in new MemoryPool<byte>[] { allocator.MemoryPool, allocator.NativeBufferPool })
        {
            IMemoryOwner<byte> first = pool.Rent(4096);
            first.Memory.Span.Fill(0xEE);
            first.Dispose();
            using IMemoryOwner<byte> second = pool.Rent(4096);
            Assert.True(second.Memory.Span.IndexOfAnyExcept((byte)0) < 0);
        }
    }

    [Fact]
    public void Arrays_come_back_zeroed_even_without_clear_array()
    {
        using SlabAllocator allocator = Clearing();
        byte[] a = allocator.ArrayPool.Rent(3000);
        a.AsSpan().Fill(0xEE);
        allocator.ArrayPool.Return(a, clearArray: false);
        byte[] b = allocator.ArrayPool.Rent(3000);
        Assert.Same(a, b);
        Assert.True(b.AsSpan().IndexOfAnyExcept((byte)0) < 0);
    }

    [Fact]
    public unsafe void Pointer_buffers_come_back_zeroed()
    {
        using SlabAllocator allocator = Clearing();
        NativeBufferPool pool = allocator.NativeBufferPool;
        nint p = pool.Allocate(200);
        new Span<byte>((void*)p, 200).Fill(0xEE);
        pool.Free(p);
        nint q = pool.Allocate(200);
        Assert.Equal(p, q);
        Assert.True(new Span<byte>((void*)q, 200).IndexOfAnyExcept((byte)0) < 0);
        pool.Free(q);
    }

    [Fact]
    public void Without_the_option_contents_survive_as_with_array_pool_shared()
    {
        using var allocator = new SlabAllocator();
        byte[] a = allocator.ArrayPool.Rent(3000);
        a.AsSpan().Fill(0xEE);
        allocator.ArrayPool.Return(a);
        Assert.Equal(0xEE, allocator.ArrayPool.Rent(3000)[100]);
    }
}
