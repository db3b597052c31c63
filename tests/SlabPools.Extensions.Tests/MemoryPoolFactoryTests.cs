using System;
using System.Buffers;
using System.Linq;
using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.Time.Testing;
using Xunit;

namespace SlabPools.Extensions.Tests;

public class MemoryPoolFactoryTests
{
    [Theory]
    [InlineData(-1)]
    [InlineData(0)]
    [InlineData(4096)]
    public void What_Kestrel_asks_for_gives_a_4096_byte_block_from_pinned_4096(int size)
    {
        using var allocator = new SlabAllocator();
        using MemoryPool<byte> pool = new SlabMemoryPoolFactory(allocator).Create(new MemoryPoolOptions { Owner = "kestrel" });

        using IMemoryOwner<byte> owner = pool.Rent(size);

        Assert.Equal(4096, owner.Memory.Length);
        Assert.Equal(1, allocator.GetInfo().Single(c => c.Name == "pinned-4096").ActiveObjects);
    }

    [Fact]
    public void Rent_without_argument_gives_4096_bytes_and_larger_sizes_a_multiple_of_4096()
    {
        using var allocator = new SlabAllocator();
        using MemoryPool<byte> pool = new SlabMemoryPoolFactory(allocator).Create();

        using IMemoryOwner<byte> block = pool.Rent();
        using IMemoryOwner<byte> large = pool.Rent(5000);

        Assert.Equal(4096, block.Memory.Length);
        Assert.Equal(8192, large.Memory.Length); // above 4 KiB: the next multiple of 4 KiB
        Assert.Equal(1 << 20, pool.MaxBufferSize);
        Assert.Throws<ArgumentOutOfRangeException>(() => pool.Rent((1 << 20) + 1));
    }

    [Fact]
    public void Created_pools_share_the_same_caches_and_per_thread_tier()
    {
        // A fake clock: no flush can run between the return and the rent below.
        using var allocator = new SlabAllocator(new SlabPoolsOptions { TimeProvider = new FakeTimeProvider() });
        var factory = new SlabMemoryPoolFactory(allocator);
        using MemoryPool<byte> queue1 = factory.Create(new MemoryPoolOptions { Owner = "kestrel" });
        using MemoryPool<byte> queue2 = factory.Create(new MemoryPoolOptions { Owner = "kestrel" });

        IMemoryOwner<byte> first = queue1.Rent();
        first.Memory.Span[0] = 42;
        Memory<byte> firstMemory = first.Memory;
        first.Dispose();

        // The block just given back through one pool is the next one the other pool hands out on
        // this thread: both draw on the same per-thread magazine of the same cache.
        using IMemoryOwner<byte> second = queue2.Rent();
        Assert.True(second.Memory.Span.Overlaps(firstMemory.Span));
        Assert.Single(allocator.GetInfo(), c => c.Name.StartsWith("pinned-", StringComparison.Ordinal));
        Assert.Equal(1, allocator.GetInfo().Single(c => c.Name == "pinned-4096").Slabs);
    }

    [Fact]
    public void Disposing_a_created_pool_stops_it_renting_but_keeps_its_buffers_and_the_shared_memory()
    {
        using var allocator = new SlabAllocator();
        var factory = new SlabMemoryPoolFactory(allocator);
        MemoryPool<byte> pool = factory.Create();
        IMemoryOwner<byte> rented = pool.Rent();
        rented.Memory.Span.Fill(9);

        pool.Dispose();

        Assert.Throws<ObjectDisposedException>(() => pool.Rent());
        Assert.True(rented.Memory.Span.IndexOfAnyExcept((byte)9) < 0);
        rented.Dispose();
        Assert.Equal(0, allocator.ErrorCount(SlabErrorKind.DoubleFree));

        using MemoryPool<byte> another = factory.Create();
        using IMemoryOwner<byte> again = another.Rent();
        Assert.Equal(4096, again.Memory.Length);
        Assert.True(allocator.GetInfo().Single(c => c.Name == "pinned-4096").BytesReserved > 0);
    }

    [Fact]
    public void The_factory_remembers_distinct_owners_in_order()
    {
        using var allocator = new SlabAllocator();
        var factory = new SlabMemoryPoolFactory(allocator);
        Assert.False(factory.HasCreatedPools);

        factory.Create(new MemoryPoolOptions { Owner = "kestrel" }).Dispose();
        factory.Create(new MemoryPoolOptions { Owner = "kestrel" }).Dispose();
        factory.Create().Dispose();
        factory.Create(new MemoryPoolOptions { Owner = "broker" }).Dispose();

        Assert.True(factory.HasCreatedPools);
        Assert.Equal(["kestrel", "broker"], factory.Owners);
    }

    [Fact]
    public void The_factory_needs_an_allocator() =>
        Assert.Equal("allocator", Assert.Throws<ArgumentNullException>(() => new SlabMemoryPoolFactory(null!)).ParamName);
}
