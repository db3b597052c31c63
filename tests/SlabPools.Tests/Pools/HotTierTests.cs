using System;
using System.Buffers;
using System.Collections.Generic;
using System.Linq;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Threading;
using Microsoft.Extensions.Time.Testing;
using SlabPools.Pools;
using SlabPools.Slabs;
using SlabPools.Tests.Infrastructure;
using Xunit;

namespace SlabPools.Tests.Pools;

/// <summary>
/// The pools' hot tier (one free buffer per thread and class in front of the magazines): counted
/// as cached, given back by flushes (also from threads that have exited), LIFO with the
/// magazines, and safe against a flush racing the owner threads.
/// </summary>
public class HotTierTests
{
    public enum Pool
    {
        Array,
        Memory,
        Native,
    }

    public static TheoryData<Pool> AllPools => new(Enum.GetValues<Pool>());

    private static SlabAllocator NewAllocator() => new(new SlabPoolsOptions { TimeProvider = new FakeTimeProvider() });

    /// <summary>
    /// Rents one 4 KiB buffer from <paramref name="pool"/>: the buffer (valid until returned), what
    /// identifies it (the array, or the address of pinned or native memory) and the action that
    /// gives it back.
    /// </summary>
    private static unsafe (Memory<byte> Buffer, object Identity, Action Return) Rent(SlabAllocator allocator, Pool pool)
    {
        switch (pool)
        {
            case Pool.Array:
                byte[] array = allocator.ArrayPool.Rent(4096);
                return (array, array, () => allocator.ArrayPool.Return(array));
            case Pool.Memory:
                IMemoryOwner<byte> owner = allocator.MemoryPool.Rent(4096);
                return (owner.Memory, AddressOf(owner.Memory), owner.Dispose);
            default:
                IMemoryOwner<byte> native = allocator.NativeBufferPool.Rent(4096);
                return (native.Memory, AddressOf(native.Memory), native.Dispose);
        }
    }

    // Pinned and native buffers never move: their address identifies them.
    private static unsafe object AddressOf(Memory<byte> memory) => (nint)Unsafe.AsPointer(ref MemoryMarshal.GetReference(memory.Span));

    private static string CacheName(Pool pool) => pool switch
    {
        Pool.Array => "array-4096",
        Pool.Memory => "pinned-4096",
        _ => "native-4096",
    };

    private static SlabCacheInfo Info(SlabAllocator allocator, Pool pool) => allocator.GetInfo().Single(i => i.Name == CacheName(pool));

    [Theory]
    [MemberData(nameof(AllPools))]
    public void A_returned_buffer_is_cached_not_active_and_the_next_rent_is_a_fast_hit(Pool pool)
    {
        using SlabAllocator allocator = NewAllocator();
        (Memory<byte> _, object first, Action returnFirst) = Rent(allocator, pool);
        returnFirst();
        Assert.Equal(0, Info(allocator, pool).ActiveObjects);

        long fastBefore = Info(allocator, pool).FastAllocations;
        (Memory<byte> _, object second, Action returnSecond) = Rent(allocator, pool);
        Assert.Equal(first, second); // the buffer just returned is the next one rented (LIFO)
        Assert.Equal(1, Info(allocator, pool).ActiveObjects);
        Assert.Equal(fastBefore + 1, Info(allocator, pool).FastAllocations);
        returnSecond();
    }

    // The calling thread's primary hot state of the pool's kind (the first pool of the kind it used,
    // until that pool closes): its tier and whether it is retired; null before the thread has one.
    private static (int TierId, bool Retired)? Primary(Pool pool) => pool switch
    {
        Pool.Array => Describe(HotTier<byte[]>.Primary),
        Pool.Memory => Describe(HotTier<SlabMemoryOwner>.Primary),
        _ => Describe(HotTier<NativeMemoryOwner>.Primary),
    };

    private static (int TierId, bool Retired)? Describe<T>(HotState<T>? state)
        where T : class => state is null ? null : (state.TierId, state.Retired);

    [Theory]
    [MemberData(nameof(AllPools))]
    public void Two_pools_of_one_kind_on_one_thread_each_keep_their_own_hot_buffer(Pool pool)
    {
        using SlabAllocator first = NewAllocator();
        using SlabAllocator second = NewAllocator();
        Run.OnNewThread(() =>
        {
            // The first pool the new thread uses is its primary (found from the thread-static); the
            // second's hot state is found through the thread's table, on its outlined paths.
            Assert.Null(Primary(pool));
            (Memory<byte> _, object a, Action giveA) = Rent(first, pool);
            giveA();
            (int TierId, bool Retired)? primary = Primary(pool);
            Assert.NotNull(primary);
            (Memory<byte> _, object b, Action giveB) = Rent(second, pool);
            giveB();
            Assert.Equal(primary, Primary(pool)); // the second pool did not take the primary's place

            for (int round = 0; round < 3; round++)
            {
                long fastFirst = Info(first, pool).FastAllocations;
                long fastSecond = Info(second, pool).FastAllocations;
                (Memory<byte> _, object againA, Action returnA) = Rent(first, pool);
                (Memory<byte> _, object againB, Action returnB) = Rent(second, pool);
                Assert.Equal(a, againA); // each pool's hot slot kept its own buffer
                Assert.Equal(b, againB);
                Assert.Equal(fastFirst + 1, Info(first, pool).FastAllocations);
                Assert.Equal(fastSecond + 1, Info(second, pool).FastAllocations);
                returnB();
                returnA();
            }
        });

        Assert.Equal(0, Info(first, pool).ActiveObjects);
        Assert.Equal(0, Info(second, pool).ActiveObjects);
    }

    [Theory]
    [MemberData(nameof(AllPools))]
    public void When_the_threads_primary_pool_is_disposed_the_next_pool_it_uses_takes_its_place(Pool pool)
    {
        using SlabAllocator second = NewAllocator();
        Run.OnNewThread(() =>
        {
            SlabAllocator first = NewAllocator();
            Rent(first, pool).Return();
            (int TierId, bool Retired) before = Primary(pool)!.Value;
            Rent(second, pool).Return();
            first.Dispose();
            Assert.Equal((before.TierId, true), Primary(pool));

            // The next operation of the second pool finds its state in the table and promotes it.
            (Memory<byte> _, object b, Action giveB) = Rent(second, pool);
            giveB();
            (int TierId, bool Retired) after = Primary(pool)!.Value;
            Assert.False(after.Retired);
            Assert.NotEqual(before.TierId, after.TierId);

            long fast = Info(second, pool).FastAllocations;
            (Memory<byte> _, object again, Action giveAgain) = Rent(second, pool);
            Assert.Equal(b, again);
            Assert.Equal(fast + 1, Info(second, pool).FastAllocations);
            giveAgain();
        });

        Assert.Equal(0, Info(second, pool).ActiveObjects);
    }

    [Theory]
    [MemberData(nameof(AllPools))]
    public void Buffers_come_back_last_in_first_out_across_the_hot_slot_and_the_magazine(Pool pool)
    {
        using SlabAllocator allocator = NewAllocator();
        var rented = Enumerable.Range(0, 5).Select(_ => Rent(allocator, pool)).ToList();
        foreach ((Memory<byte> _, object _, Action give) in rented)
        {
            give();
        }

        // Returned 0, 1, 2, 3, 4: rented back 4, 3, 2, 1, 0.
        for (int i = rented.Count - 1; i >= 0; i--)
        {
            Assert.Equal(rented[i].Identity, Rent(allocator, pool).Identity);
        }
    }

    [Theory]
    [MemberData(nameof(AllPools))]
    public void A_buffer_kept_hot_by_a_thread_that_exited_is_released_by_the_next_shrink(Pool pool)
    {
        using SlabAllocator allocator = NewAllocator();
        Run.OnNewThread(() =>
        {
            for (int i = 0; i < 3; i++)
            {
                Rent(allocator, pool).Return();
            }
        });

        Assert.True(Info(allocator, pool).BytesReserved > 0);
        allocator.Shrink();
        SlabCacheInfo info = Info(allocator, pool);
        Assert.Equal(0, info.BytesReserved);
        Assert.Equal(0, info.ActiveObjects);

        // The pool still works on this thread and on a new one.
        (Memory<byte> b, object _, Action giveB) = Rent(allocator, pool);
        b.Span.Fill(1);
        giveB();
        Run.OnNewThread(() => Rent(allocator, pool).Return());
        Assert.Equal(0, Info(allocator, pool).ActiveObjects);
    }

    [Theory]
    [MemberData(nameof(AllPools))]
    public void Flushes_racing_two_owner_threads_never_hand_a_buffer_out_twice(Pool pool)
    {
        using SlabAllocator allocator = NewAllocator();
        int mismatches = 0;
        long operations = 0;

        void Worker(byte tag)
        {
            var held = new List<(Memory<byte> Buffer, object Identity, Action Return)>();
            var random = new Random(tag);
            for (int i = 0; i < 40_000; i++)
            {
                if (held.Count < 3 && random.Next(2) == 0)
                {
                    var rented = Rent(allocator, pool);
                    rented.Buffer.Span.Fill(tag);
                    held.Add(rented);
                }
                else if (held.Count > 0)
                {
                    int k = random.Next(held.Count);
                    if (held[k].Buffer.Span.IndexOfAnyExcept(tag) >= 0)
                    {
                        Interlocked.Increment(ref mismatches);
                    }

                    held[k].Return();
                    held.RemoveAt(k);
                }

                Interlocked.Increment(ref operations);
            }

            held.ForEach(h => h.Return());
        }

        void Flusher()
        {
            // Bounded: as many flushes as the workers take, at most 2,000.
            for (int i = 0; i < 2_000 && Interlocked.Read(ref operations) < 80_000; i++)
            {
                allocator.Shrink();
                Thread.Yield();
            }
        }

        Run.Parallel(() => Worker(1), () => Worker(2), Flusher);

        Assert.Equal(0, mismatches);
        Assert.Equal(0, Info(allocator, pool).ActiveObjects);
        Assert.Equal(0, Enum.GetValues<SlabErrorKind>().Sum(k => allocator.ErrorCount(k)));
        allocator.Shrink();
        Assert.Equal(0, Info(allocator, pool).BytesReserved);
    }

    [Theory]
    [MemberData(nameof(AllPools))]
    public void Rent_and_return_through_the_hot_slot_allocate_nothing(Pool pool)
    {
        using SlabAllocator allocator = NewAllocator();
        Rent(allocator, pool).Return();
        switch (pool)
        {
            case Pool.Array:
                Allocations.AssertNone(() => allocator.ArrayPool.Return(allocator.ArrayPool.Rent(4096)));
                break;
            case Pool.Memory:
                Allocations.AssertNone(() => allocator.MemoryPool.Rent(4096).Dispose());
                break;
            default:
                Allocations.AssertNone(() => allocator.NativeBufferPool.Rent(4096).Dispose());
                break;
        }
    }

    [Fact]
    public void Disposing_the_allocator_empties_the_hot_slots_and_every_page_goes_back_with_the_last_buffer()
    {
        var pages = new SlabPools.Pages.NativePageAllocator();
        var allocator = new SlabAllocator(new SlabPoolsOptions { TimeProvider = new FakeTimeProvider() }) { NativePages = pages };
        IMemoryOwner<byte> kept = allocator.NativeBufferPool.Rent(4096);
        allocator.NativeBufferPool.Rent(4096).Dispose(); // now in this thread's hot slot
        Assert.Equal(1, Info(allocator, Pool.Native).ActiveObjects);

        allocator.Dispose();
        Assert.True(pages.BytesInUse > 0, "the buffer still rented keeps its slab");
        kept.Memory.Span.Fill(7); // still valid after the allocator is disposed

        kept.Dispose();
        Assert.Equal(0, pages.BytesInUse);
        Assert.Throws<ObjectDisposedException>(() => allocator.NativeBufferPool.Rent(4096));
    }
}
