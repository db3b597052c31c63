using System;
using System.Buffers;
using System.Collections.Generic;
using System.Linq;
using SlabPools.Pools;
using SlabPools.Tests.Infrastructure;
using Xunit;

namespace SlabPools.Tests.Pools;

/// <summary>What <see cref="ArrayPool{T}"/> promises, and what SlabPools adds.</summary>
public class ArrayPoolTests
{
    [Theory]
    [InlineData(1, 16)]
    [InlineData(16, 16)]
    [InlineData(65, 72)]
    [InlineData(90, 96)]
    [InlineData(96, 96)]
    [InlineData(129, 144)]
    [InlineData(177, 192)]
    [InlineData(192, 192)]
    [InlineData(3000, 3072)]
    [InlineData(4096, 4096)]
    [InlineData(4097, 4608)]
    [InlineData(70_000, 73_728)]
    [InlineData(1 << 20, 1 << 20)]
    public void Rent_returns_the_size_class(int requested, int expected)
    {
        using var allocator = new SlabAllocator();
        ArrayPool<byte> pool = allocator.ArrayPool;
        byte[] array = pool.Rent(requested);
        Assert.Equal(expected, array.Length);
        pool.Return(array);
    }

    [Fact]
    public void Rent_zero_is_the_empty_array_and_bad_arguments_throw_as_the_shared_pool_does()
    {
        using var allocator = new SlabAllocator();
        ArrayPool<byte> pool = allocator.ArrayPool;
        Assert.Empty(pool.Rent(0));
        Assert.Same(Array.Empty<byte>(), pool.Rent(0));
        pool.Return(pool.Rent(0));
        Assert.Throws<ArgumentOutOfRangeException>(() => pool.Rent(-1));
        Assert.Throws<ArgumentOutOfRangeException>(() => ArrayPool<byte>.Shared.Rent(-1));
        Assert.Throws<ArgumentNullException>(() => pool.Return(null!));
        Assert.Throws<ArgumentNullException>(() => ArrayPool<byte>.Shared.Return(null!));
        ArgumentException e = Assert.Throws<ArgumentException>(() => pool.Return(new byte[100]));
        Assert.Contains("100", e.Message);
    }

    [Fact]
    public void Sizes_beyond_the_largest_class_are_allocated_and_not_pooled()
    {
        using var allocator = new SlabAllocator();
        ArrayPool<byte> pool = allocator.ArrayPool;
        byte[] big = pool.Rent((1 << 20) + 1);
        Assert.Equal((1 << 20) + 1, big.Length);
        pool.Return(big);
        Assert.NotSame(big, pool.Rent((1 << 20) + 1));
        Assert.DoesNotContain(allocator.GetInfo(), i => i.ObjectSize > (1 << 20));
    }

    [Fact]
    public void Returned_arrays_are_reused_and_clear_array_is_honoured()
    {
        using var allocator = new SlabAllocator();
        ArrayPool<byte> pool = allocator.ArrayPool;
        byte[] a = pool.Rent(4096);
        a.AsSpan().Fill(7);
        pool.Return(a, clearArray: true);
        byte[] b = pool.Rent(4000);
        Assert.Same(a, b);
        Assert.True(b.AsSpan().IndexOfAnyExcept((byte)0) < 0);
        b.AsSpan().Fill(9);
        pool.Return(b);
        byte[] c = pool.Rent(4096);
        Assert.Same(a, c);
        Assert.Equal(9, c[100]);
        pool.Return(c);
    }

    [Fact]
    public void A_double_return_is_reported_once_and_the_array_is_never_handed_to_two_renters()
    {
        using var allocator = new SlabAllocator();
        var log = new ErrorLog(allocator);
        ArrayPool<byte> pool = allocator.ArrayPool;
        byte[] a = pool.Rent(1000);
        pool.Return(a);
        pool.Return(a);
        Assert.Equal(1, log.Count(SlabErrorKind.DoubleFree));
        Assert.Equal("array-1024", log.Errors[0].CacheName);
        byte[] x = pool.Rent(1000);
        byte[] y = pool.Rent(1000);
        Assert.NotSame(x, y);
    }

    [Fact]
    public void A_write_after_return_is_reported_at_the_next_rent()
    {
        using var allocator = new SlabAllocator();
        var log = new ErrorLog(allocator);
        ArrayPool<byte> pool = allocator.ArrayPool;
        byte[] a = pool.Rent(256);
        pool.Return(a);
        a.AsSpan().Fill(1); // use after return
        Assert.Same(a, pool.Rent(256));
        Assert.Equal(1, log.Count(SlabErrorKind.UseAfterFree));
    }

    [Fact]
    public void Arrays_of_a_class_length_it_did_not_make_are_adopted_even_before_the_class_has_a_cache()
    {
        using var allocator = new SlabAllocator();
        var log = new ErrorLog(allocator);
        SlabArrayPool pool = allocator.ArrayPool;
        pool.Return(pool.Rent(4096)); // the thread now has a hot slot per class
        Assert.DoesNotContain(allocator.GetInfo(), i => i.Name == "array-1024");

        // Two foreign arrays of the 1024-byte class: the first waits in the hot slot, the second
        // displaces it down to the class's magazine, which the pool makes then.
        byte[] first = new byte[1024], second = new byte[1024];
        pool.Return(first);
        pool.Return(second);
        Assert.Contains(allocator.GetInfo(), i => i.Name == "array-1024");
        var rented = new[] { pool.Rent(1000), pool.Rent(1000) };
        Assert.Equal(new[] { second, first }, rented);

        // A foreign array waiting in the hot slot of a class without a cache: a write into it is
        // reported when it is rented, a second return as a double return.
        byte[] foreign = new byte[2048];
        pool.Return(foreign);
        allocator.Shrink(); // the flush leaves it where it is: no cache to take it yet
        foreign.AsSpan().Fill(3);
        Assert.Same(foreign, pool.Rent(2048));
        Assert.Equal(1, log.Count(SlabErrorKind.UseAfterFree));
        Assert.Equal("array-2048", log.Errors[^1].CacheName);
        pool.Return(foreign);
        pool.Return(foreign);
        Assert.Equal(1, log.Count(SlabErrorKind.DoubleFree));
        Assert.Same(foreign, pool.Rent(2048));
        Assert.NotSame(foreign, pool.Rent(2048));
    }

    [Fact]
    public void A_burst_after_warm_up_allocates_nothing()
    {
        using var allocator = new SlabAllocator(new SlabPoolsOptions { TimeProvider = new Microsoft.Extensions.Time.Testing.FakeTimeProvider() });
        ArrayPool<byte> pool = allocator.ArrayPool;
        var held = new byte[256][];
        void Burst()
        {
            for (int i = 0; i < held.Length; i++)
            {
                held[i] = pool.Rent(4096);
            }

            for (int i = 0; i < held.Length; i++)
            {
                pool.Return(held[i]);
            }
        }

        Allocations.AssertNone(() =>
        {
            for (int round = 0; round < 5; round++)
            {
                Burst();
            }
        });
    }

    [Fact]
    public void Rent_and_return_allocate_nothing_after_warm_up()
    {
        using var allocator = new SlabAllocator(new SlabPoolsOptions { TimeProvider = new Microsoft.Extensions.Time.Testing.FakeTimeProvider() });
        ArrayPool<byte> pool = allocator.ArrayPool;
        int[] sizes = [64, 3000, 4096, 4097, 70_000];
        Allocations.AssertNone(() =>
        {
            for (int i = 0; i < 10_000; i++)
            {
                pool.Return(pool.Rent(sizes[i % sizes.Length]));
            }
        });
    }

    [Fact]
    public void Statistics_count_arrays_handed_out_and_shrink_lets_free_ones_go()
    {
        using var allocator = new SlabAllocator();
        SlabArrayPool pool = allocator.ArrayPool;
        List<byte[]> held = Enumerable.Range(0, 100).Select(_ => pool.Rent(2000)).ToList();
        SlabCacheInfo info = allocator.GetInfo().Single(i => i.Name == "array-2048");
        Assert.Equal(100, info.ActiveObjects);
        Assert.Equal(1, info.ObjectsPerSlab);
        Assert.Equal("managed", info.Memory);
        Assert.True(info.TotalObjects >= 100);
        Assert.Equal(info.TotalObjects * 2048, info.BytesReserved);
        held.ForEach(a => pool.Return(a));
        Assert.Equal(0, allocator.GetInfo().Single(i => i.Name == "array-2048").ActiveObjects);
        allocator.Shrink();
        SlabCacheInfo after = allocator.GetInfo().Single(i => i.Name == "array-2048");
        Assert.Equal(0, after.BytesReserved);
        Assert.Equal(0, after.Slabs);
    }

    [Fact]
    public void Arrays_rented_on_one_thread_can_be_returned_on_another()
    {
        using var allocator = new SlabAllocator();
        var log = new ErrorLog(allocator);
        ArrayPool<byte> pool = allocator.ArrayPool;
        var queue = new System.Collections.Concurrent.BlockingCollection<byte[]>(256);
        long bad = 0;
        Run.Parallel(
            () =>
            {
                for (int i = 0; i < 50_000; i++)
                {
                    byte[] a = pool.Rent(4096);
                    BitConverter.TryWriteBytes(a.AsSpan(16), i);
                    queue.Add(a);
                }

                queue.CompleteAdding();
            },
            () =>
            {
                int i = 0;
                foreach (byte[] a in queue.GetConsumingEnumerable())
                {
                    if (BitConverter.ToInt32(a, 16) != i++)
                    {
                        bad++;
                    }

                    pool.Return(a);
                }
            });
        Assert.Equal(0, bad);
        Assert.Empty(log.Errors);
        Assert.Equal(0, allocator.GetInfo().Single(i => i.Name == "array-4096").ActiveObjects);
    }
}
