using System;
using System.Buffers;
using System.Linq;
using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.Time.Testing;
using SlabPools.Tests.Infrastructure;
using Xunit;

namespace SlabPools.Extensions.Tests;

public class MemoryPoolFactoryTests
{
    [Theory]
    [InlineData(-1)]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(2048)]
    [InlineData(4096)]
    [InlineData(16384)]
    public void What_Kestrel_asks_for_gives_a_16_KiB_transport_block_from_pinned_16384(int size)
    {
        using var allocator = new SlabAllocator();
        var factory = new SlabMemoryPoolFactory(allocator);
        using MemoryPool<byte> pool = factory.Create(new MemoryPoolOptions { Owner = "kestrel" });

        using IMemoryOwner<byte> owner = pool.Rent(size);

        Assert.Equal(SlabPoolsOptions.DefaultTransportBlockSize, factory.BlockSize);
        Assert.Equal(16384, owner.Memory.Length);
        Assert.Equal(1, allocator.GetInfo().Single(c => c.Name == "pinned-16384").ActiveObjects);
        Assert.DoesNotContain(allocator.GetInfo(), c => c.Name == "pinned-4096");
    }

    [Theory]
    [InlineData(4096, 4096)]
    [InlineData(8192, 8192)]
    [InlineData(65536, 65536)]
    public void The_transport_block_is_the_configured_size(int blockSize, int expected)
    {
        using var allocator = new SlabAllocator(new SlabPoolsOptions { TransportBlockSize = blockSize });
        var factory = new SlabMemoryPoolFactory(allocator);
        using MemoryPool<byte> pool = factory.Create();

        using IMemoryOwner<byte> any = pool.Rent();
        using IMemoryOwner<byte> zero = pool.Rent(0);
        using IMemoryOwner<byte> kestrels = pool.Rent(4096);

        Assert.Equal(blockSize, factory.BlockSize);
        Assert.Equal(expected, any.Memory.Length);
        Assert.Equal(expected, zero.Memory.Length);
        Assert.Equal(expected, kestrels.Memory.Length);
        Assert.Equal(3, allocator.GetInfo().Single(c => c.Name == $"pinned-{expected}").ActiveObjects);
    }

    [Fact]
    public void Sizes_above_the_block_get_their_size_class_and_bad_sizes_are_refused()
    {
        using var allocator = new SlabAllocator();
        using MemoryPool<byte> pool = new SlabMemoryPoolFactory(allocator).Create();

        using IMemoryOwner<byte> large = pool.Rent(16385);

        Assert.Equal(20480, large.Memory.Length); // above 4 KiB: the next multiple of 4 KiB
        Assert.Equal(1 << 20, pool.MaxBufferSize);
        ArgumentOutOfRangeException tooLarge = Assert.Throws<ArgumentOutOfRangeException>(() => pool.Rent((1 << 20) + 1));
        Assert.Contains("transport block of 16384", tooLarge.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => pool.Rent(-2));
        Assert.Throws<ArgumentOutOfRangeException>(() => pool.Rent(int.MinValue));
        Assert.Throws<ArgumentOutOfRangeException>(() => pool.Rent(int.MaxValue));
        Assert.Equal(1, allocator.GetInfo().Where(c => c.Name.StartsWith("pinned-", StringComparison.Ordinal)).Sum(c => c.ActiveObjects));
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
        Assert.Equal(1, allocator.GetInfo().Single(c => c.Name == "pinned-16384").Slabs);
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
        Assert.Equal(16384, again.Memory.Length);
        Assert.True(allocator.GetInfo().Single(c => c.Name == "pinned-16384").BytesReserved > 0);
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
    public void Renting_and_returning_transport_blocks_allocates_nothing()
    {
        using var allocator = new SlabAllocator();
        using MemoryPool<byte> pool = new SlabMemoryPoolFactory(allocator).Create(new MemoryPoolOptions { Owner = "kestrel" });
        var held = new IMemoryOwner<byte>[64];

        // Kestrel's pattern: Rent() and Rent(4096) for segments, a larger size now and then, held a
        // while (a burst in flight) and disposed through the interface. Every round allocates nothing
        // once the cache has its slabs and the thread its magazines (the two warm-up calls).
        long firstByte = 0;
        void Burst()
        {
            for (int i = 0; i < held.Length; i++)
            {
                held[i] = (i % 8) switch { 0 => pool.Rent(), 7 => pool.Rent(20_000), _ => pool.Rent(4096) };
                held[i].Memory.Span[0] = (byte)i;
            }

            for (int i = 0; i < held.Length; i++)
            {
                firstByte += held[i].Memory.Span[0];
                held[i].Dispose();
            }
        }

        Allocations.AssertNone(Burst);
        Assert.Equal(7 * (long)Enumerable.Range(0, held.Length).Sum(), firstByte);
        Assert.All(allocator.GetInfo(), c => Assert.Equal(0, c.ActiveObjects));
    }

    [Fact]
    public void The_factory_needs_an_allocator() =>
        Assert.Equal("allocator", Assert.Throws<ArgumentNullException>(() => new SlabMemoryPoolFactory(null!)).ParamName);
}
