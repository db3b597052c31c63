using System;
using System.Buffers;
using System.Collections.Generic;
using System.Linq;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using SlabPools.Pools;
using SlabPools.Tests.Infrastructure;
using Xunit;

namespace SlabPools.Tests.Pools;

/// <summary>
/// What <see cref="MemoryPool{T}"/> promises, checked on both memory pools (pinned managed slabs and
/// native slabs) under every debug setting: one contract suite, rerun by small subclasses.
/// </summary>
public abstract class MemoryPoolContractTests
{
    protected virtual SlabPoolsOptions Options => new();

    protected abstract MemoryPool<byte> PoolOf(SlabAllocator allocator);

    protected abstract string Prefix { get; }

    [Theory]
    [InlineData(-1, 4096)]
    [InlineData(0, 4096)]
    [InlineData(1, 16)]
    [InlineData(100, 104)]
    [InlineData(4096, 4096)]
    [InlineData(5000, 8192)]
    [InlineData(12000, 12288)]
    [InlineData(1 << 20, 1 << 20)]
    public void Rent_gives_at_least_the_size_asked_for(int size, int expected)
    {
        using var allocator = new SlabAllocator(Options);
        MemoryPool<byte> pool = PoolOf(allocator);
        using IMemoryOwner<byte> owner = pool.Rent(size);
        Assert.Equal(expected, owner.Memory.Length);
        owner.Memory.Span.Fill(3);
        Assert.Equal(1 << 20, pool.MaxBufferSize);
    }

    [Fact]
    public void Rent_without_argument_gives_kestrels_block_size()
    {
        using var allocator = new SlabAllocator(Options);
        using IMemoryOwner<byte> owner = PoolOf(allocator).Rent();
        Assert.Equal(4096, owner.Memory.Length);
        Assert.Contains(allocator.GetInfo(), i => i.Name == Prefix + "4096" && i.ActiveObjects == 1);
    }

    [Fact]
    public void Sizes_out_of_range_throw()
    {
        using var allocator = new SlabAllocator(Options);
        MemoryPool<byte> pool = PoolOf(allocator);
        Assert.Throws<ArgumentOutOfRangeException>(() => pool.Rent(-2));
        Assert.Throws<ArgumentOutOfRangeException>(() => pool.Rent((1 << 20) + 1));
    }

    [Fact]
    public void Buffers_are_distinct_and_keep_their_contents()
    {
        using var allocator = new SlabAllocator(Options);
        MemoryPool<byte> pool = PoolOf(allocator);
        List<IMemoryOwner<byte>> owners = Enumerable.Range(0, 100).Select(_ => pool.Rent(4096)).ToList();
        for (int i = 0; i < owners.Count; i++)
        {
            owners[i].Memory.Span.Fill((byte)i);
        }

        for (int i = 0; i < owners.Count; i++)
        {
            Assert.True(owners[i].Memory.Span.IndexOfAnyExcept((byte)i) < 0);
        }

        owners.ForEach(o => o.Dispose());
        Assert.Equal(0, allocator.GetInfo().Single(i => i.Name == Prefix + "4096").ActiveObjects);
    }

    [Fact]
    public unsafe void Pinning_gives_the_buffers_stable_address()
    {
        using var allocator = new SlabAllocator(Options);
        using IMemoryOwner<byte> owner = PoolOf(allocator).Rent(4096);
        using MemoryHandle handle = owner.Memory.Pin();
        GC.Collect(2, GCCollectionMode.Forced, true, true);
        fixed (byte* p = owner.Memory.Span)
        {
            Assert.Equal((nint)handle.Pointer, (nint)p);
        }
    }

    [Fact]
    public void Memory_after_dispose_throws()
    {
        using var allocator = new SlabAllocator(Options);
        IMemoryOwner<byte> owner = PoolOf(allocator).Rent(4096);
        owner.Dispose();
        Assert.Throws<ObjectDisposedException>(() => owner.Memory.Span.Length);
    }

    [Fact]
    public void A_second_dispose_is_reported_as_a_double_free_and_ignored()
    {
        using var allocator = new SlabAllocator(Options);
        var log = new ErrorLog(allocator);
        MemoryPool<byte> pool = PoolOf(allocator);
        IMemoryOwner<byte> owner = pool.Rent(4096);
        owner.Dispose();
        owner.Dispose();
        Assert.Equal(1, log.Count(SlabErrorKind.DoubleFree));
        Assert.Equal(Prefix + "4096", log.Errors[0].CacheName);
        Assert.Equal(0, allocator.GetInfo().Single(i => i.Name == Prefix + "4096").ActiveObjects);
    }

    [Fact]
    public void A_stale_owner_disposed_after_its_slot_was_rented_again_does_not_free_the_new_renters_buffer()
    {
        using var allocator = new SlabAllocator(Options);
        var log = new ErrorLog(allocator);
        MemoryPool<byte> pool = PoolOf(allocator);
        (IMemoryOwner<byte> stale, IMemoryOwner<byte> current) = RentOneSlotTwice(pool);
        Assert.NotSame(stale, current);
        stale.Dispose(); // the bug: a stale owner disposed again
        Assert.Equal(1, log.Count(SlabErrorKind.DoubleFree));
        current.Memory.Span.Fill(5);                     // still the renter's
        IMemoryOwner<byte> other = pool.Rent(4096);
        Assert.False(other.Memory.Span.Overlaps(current.Memory.Span));
        other.Dispose();
        current.Dispose();
        Assert.Equal(1, log.Count(SlabErrorKind.DoubleFree));
    }

    // Rents a 4 KiB buffer, disposes it and rents again, until the second rent is the same slot
    // (returns the disposed owner and the new one). The slot freed last is rented first on the
    // thread that freed it, so this is nearly always the first attempt; but debug modes free into
    // the slab layer, whose active slab is per processor, and a thread that moved to another
    // processor in between rents from that processor's slab instead (seen once in 70 runs).
    private static (IMemoryOwner<byte> Stale, IMemoryOwner<byte> Current) RentOneSlotTwice(MemoryPool<byte> pool)
    {
        for (int attempt = 0; attempt < 20; attempt++)
        {
            IMemoryOwner<byte> stale = pool.Rent(4096);
            nint address = AddressOf(stale);
            stale.Dispose();
            IMemoryOwner<byte> current = pool.Rent(4096);
            if (AddressOf(current) == address)
            {
                return (stale, current);
            }

            current.Dispose();
        }

        Assert.Fail("a freed slot was never the next one rented in 20 attempts");
        return default;
    }

    [Fact]
    public void A_stale_owner_disposed_after_its_slab_was_released_is_reported_without_reading_the_slot()
    {
        // A native slab is unmapped when released: the report must not read (hex-dump) the slot.
        using var allocator = new SlabAllocator(Options);
        var log = new ErrorLog(allocator);
        MemoryPool<byte> pool = PoolOf(allocator);
        IMemoryOwner<byte> stale = pool.Rent(4096);
        stale.Dispose();
        allocator.Shrink();
        Assert.Equal(0, allocator.GetInfo().Single(i => i.Name == Prefix + "4096").BytesReserved);

        stale.Dispose();

        SlabErrorEventArgs error = Assert.Single(log.Errors);
        Assert.Equal(SlabErrorKind.DoubleFree, error.Kind);
        Assert.Contains("released", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Stale_owners_stay_caught_whichever_tier_their_slots_went_through(bool flushInBetween)
    {
        // 300 buffers of 4 KiB: returned, they fill the hot slot, the magazine (32), the depot and
        // then the slabs; with a flush in between, all of them go back to the slabs. Rented again,
        // every slot must come with another owner than the one disposed last, whichever tier it
        // came from, so that each stale owner's second Dispose is caught and harms nobody.
        const int Count = 300;
        using var allocator = new SlabAllocator(Options);
        var log = new ErrorLog(allocator);
        MemoryPool<byte> pool = PoolOf(allocator);
        var stale = new IMemoryOwner<byte>[Count];
        var staleByAddress = new Dictionary<nint, IMemoryOwner<byte>>();
        for (int i = 0; i < Count; i++)
        {
            stale[i] = pool.Rent(4096);
            staleByAddress.Add(AddressOf(stale[i]), stale[i]);
        }

        foreach (IMemoryOwner<byte> owner in stale)
        {
            owner.Dispose();
        }

        if (flushInBetween)
        {
            allocator.Shrink();
        }

        var current = new IMemoryOwner<byte>[Count];
        for (int i = 0; i < Count; i++)
        {
            current[i] = pool.Rent(4096);
            current[i].Memory.Span.Fill((byte)i);
            if (staleByAddress.TryGetValue(AddressOf(current[i]), out IMemoryOwner<byte>? previous))
            {
                Assert.NotSame(previous, current[i]);
            }
        }

        foreach (IMemoryOwner<byte> owner in stale)
        {
            owner.Dispose(); // the bug: stale owners disposed again
        }

        Assert.Equal(Count, log.Count(SlabErrorKind.DoubleFree));
        Assert.Equal(Count, Faces.Active(allocator));
        for (int i = 0; i < Count; i++)
        {
            Assert.True(current[i].Memory.Span.IndexOfAnyExcept((byte)i) < 0, $"buffer {i} was overwritten");
            current[i].Dispose();
        }

        Assert.Equal(0, Faces.Active(allocator));
        Assert.Equal(Count, log.Count(SlabErrorKind.DoubleFree));
    }

    private static unsafe nint AddressOf(IMemoryOwner<byte> owner)
    {
        using MemoryHandle handle = owner.Memory.Pin();
        return (nint)handle.Pointer;
    }

    [Fact]
    public void Throw_on_error_turns_a_double_dispose_into_an_exception()
    {
        SlabPoolsOptions options = Options;
        options.ThrowOnError = true;
        using var allocator = new SlabAllocator(options);
        IMemoryOwner<byte> owner = PoolOf(allocator).Rent();
        owner.Dispose();
        Assert.Equal(SlabErrorKind.DoubleFree, Assert.Throws<SlabErrorException>(owner.Dispose).Kind);
    }

    [Fact]
    public void Rent_and_dispose_allocate_nothing_after_warm_up()
    {
        // One processor: a thread that migrates between processors may find its new processor's
        // active slab elsewhere and rightly make a slab, which is not what this test is about.
        // A fake clock: no flusher tick may run (and contend for locks) while allocations are counted.
        SlabPoolsOptions options = Options;
        options.Topology = new NodeTopology([0]);
        options.TimeProvider = new Microsoft.Extensions.Time.Testing.FakeTimeProvider();
        using var allocator = new SlabAllocator(options);
        MemoryPool<byte> pool = PoolOf(allocator);
        var burst = new IMemoryOwner<byte>[512];
        Allocations.AssertNone(() =>
        {
            for (int round = 0; round < 4; round++)
            {
                for (int i = 0; i < burst.Length; i++)
                {
                    burst[i] = pool.Rent(round == 0 ? -1 : 4096);
                    _ = burst[i].Memory.Span[0];
                }

                foreach (IMemoryOwner<byte> o in burst)
                {
                    o.Dispose();
                }
            }
        });
    }

    [Fact]
    public void Buffers_rented_on_one_thread_can_be_returned_on_another()
    {
        using var allocator = new SlabAllocator(Options);
        var log = new ErrorLog(allocator);
        MemoryPool<byte> pool = PoolOf(allocator);
        var queue = new System.Collections.Concurrent.BlockingCollection<IMemoryOwner<byte>>(256);
        long bad = 0;
        Run.Parallel(
            () =>
            {
                for (int i = 0; i < 30_000; i++)
                {
                    IMemoryOwner<byte> o = pool.Rent();
                    MemoryMarshal.Write(o.Memory.Span.Slice(100), in i);
                    queue.Add(o);
                }

                queue.CompleteAdding();
            },
            () =>
            {
                int i = 0;
                foreach (IMemoryOwner<byte> o in queue.GetConsumingEnumerable())
                {
                    if (MemoryMarshal.Read<int>(o.Memory.Span.Slice(100)) != i++)
                    {
                        bad++;
                    }

                    o.Dispose();
                }
            });
        Assert.Equal(0, bad);
        Assert.Empty(log.Errors);
        Assert.Equal(0, allocator.GetInfo().Single(i => i.Name == Prefix + "4096").ActiveObjects);
    }
}

public class PinnedMemoryPoolTests : MemoryPoolContractTests
{
    protected override string Prefix => "pinned-";

    protected override MemoryPool<byte> PoolOf(SlabAllocator allocator) => allocator.MemoryPool;

    [Fact]
    public void Buffers_are_slices_of_pinned_arrays()
    {
        using var allocator = new SlabAllocator(Options);
        using SlabMemoryOwner owner = allocator.MemoryPool.RentOwner(4096);
        Assert.True(MemoryMarshal.TryGetArray(owner.Memory, out ArraySegment<byte> segment));
        Assert.Equal(4096, segment.Count);
        Assert.Equal("pinned", allocator.GetInfo().Single(i => i.Name == "pinned-4096").Memory);
    }

    [Fact]
    public unsafe void Pinning_a_buffer_takes_no_gc_handle()
    {
        // Sockets and file I/O pin every buffer they are given: a buffer made as a pre-pinned
        // Memory gives its pointer at once, where a plain array slice takes a pinning GC handle.
        using var allocator = new SlabAllocator(Options);
        using SlabMemoryOwner owner = allocator.MemoryPool.RentOwner(4096);
        using MemoryHandle handle = owner.Memory.Pin();
        System.Reflection.FieldInfo field = typeof(MemoryHandle).GetField("_handle", System.Reflection.BindingFlags.NonPublic | System.Reflection.BindingFlags.Instance)!;
        Assert.False(((GCHandle)field.GetValue(handle)!).IsAllocated);
        Assert.True(handle.Pointer == Unsafe.AsPointer(ref MemoryMarshal.GetReference(owner.Memory.Span)));
    }
}

public class NativeMemoryPoolTests : MemoryPoolContractTests
{
    protected override string Prefix => "native-";

    protected override MemoryPool<byte> PoolOf(SlabAllocator allocator) => allocator.NativeBufferPool;
}

public class DebugPinnedMemoryPoolTests : PinnedMemoryPoolTests
{
    protected override SlabPoolsOptions Options => new() { Debug = SlabDebugFlags.ConsistencyChecks };
}

public class DebugNativeMemoryPoolTests : NativeMemoryPoolTests
{
    protected override SlabPoolsOptions Options => new() { Debug = SlabDebugFlags.ConsistencyChecks };
}

/// <summary>The managed memory a native buffer costs, with the default options (debugging keeps more owners per slot).</summary>
public class NativeBufferFootprintTests
{
    [Theory]
    [InlineData(64, 140)]   // 131 B: two owners of 64 B (16 B less since the class moved out of the link), the slot's entry and its share of the slab
    [InlineData(4096, 186)] // 178 B: fewer slots per slab, so a larger share of each slab's own objects
    public void A_native_buffer_costs_little_managed_memory(int size, int maxBytesPerBuffer)
    {
        // Each slot is made with its owners (two, for stale-owner detection) and nothing else: the
        // managed bytes a burst makes (owners, slab objects) stay a small fraction of the buffers.
        const int Count = 4000;
        using var allocator = new SlabAllocator();
        MemoryPool<byte> pool = allocator.NativeBufferPool;
        pool.Rent(size).Dispose(); // the class's cache, made once
        var owners = new IMemoryOwner<byte>[Count];
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < Count; i++)
        {
            owners[i] = pool.Rent(size);
        }

        double perBuffer = (GC.GetAllocatedBytesForCurrentThread() - before) / (double)Count;
        foreach (IMemoryOwner<byte> owner in owners)
        {
            owner.Dispose();
        }

        Assert.True(perBuffer <= maxBytesPerBuffer, $"{perBuffer:F1} managed bytes per {size}-byte buffer");
    }
}
