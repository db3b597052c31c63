using System;
using System.Collections.Generic;
using System.Linq;
using SlabPools.Pages;
using SlabPools.Tests.Infrastructure;
using Xunit;

namespace SlabPools.Tests.Derived;

public class ConstructorAndMergeTests
{
    [Fact]
    public unsafe void Objects_are_constructed_with_their_slab_stay_constructed_while_free_and_are_destroyed_with_it()
    {
        using var allocator = new SlabAllocator();
        int constructed = 0, destroyed = 0;
        SlabCache cache = allocator.CreateCache("ctor", 48, new SlabCacheOptions
        {
            Constructor = p => { *(long*)p = 0x1234; constructed++; },
            Destructor = _ => destroyed++,
        });
        Assert.Equal("ctor", cache.Name);

        var objects = Enumerable.Range(0, cache.ObjectsPerSlab + 1).Select(_ => cache.Allocate()).ToList();
        Assert.Equal(2 * cache.ObjectsPerSlab, constructed);
        Assert.All(objects, p => Assert.Equal(0x1234, *(long*)p));

        // The owner leaves its objects in a state of its own when it frees them; the free list and
        // free mark live behind the object, so that state is what the next allocation sees.
        foreach (nint p in objects)
        {
            *(long*)p = 0x5678;
            cache.Free(p);
        }

        var used = objects.ToHashSet();
        var all = Enumerable.Range(0, 2 * cache.ObjectsPerSlab).Select(_ => cache.Allocate()).ToList();
        Assert.Equal(2 * cache.ObjectsPerSlab, constructed); // no new construction
        Assert.All(all, p => Assert.Equal(used.Contains(p) ? 0x5678 : 0x1234, *(long*)p));

        all.ForEach(cache.Free);
        allocator.Shrink();
        Assert.Equal(constructed, destroyed);
        Assert.Equal(0, cache.GetInfo().Slabs);
    }

    [Fact]
    public void A_compatible_plain_cache_is_merged_into_a_kmalloc_cache_and_shown_as_an_alias()
    {
        using var allocator = new SlabAllocator();
        SlabCache a = allocator.CreateCache("sessions", 100);
        SlabCache b = allocator.CreateCache("tokens", 98);
        Assert.Same(allocator.GetKmallocCache(104), a);
        Assert.Same(a, b);
        Assert.Equal(["sessions", "tokens"], a.GetInfo().Aliases);
        string info = allocator.FormatSlabInfo();
        Assert.Contains("sessions,tokens", info.Split('\n').Single(l => l.StartsWith("kmalloc-104 ", StringComparison.Ordinal)));
    }

    [Fact]
    public void Caches_with_constructors_rcu_debugging_or_a_move_callback_never_merge()
    {
        using var allocator = new SlabAllocator();
        SlabCache plain = allocator.GetKmallocCache(64);
        Assert.NotSame(plain, allocator.CreateCache("c", 64, new SlabCacheOptions { Constructor = _ => { } }));
        Assert.NotSame(plain, allocator.CreateCache("r", 64, new SlabCacheOptions { TypesafeByRcu = true }));
        Assert.NotSame(plain, allocator.CreateCache("d", 64, new SlabCacheOptions { Debug = SlabDebugFlags.Poison }));
        Assert.NotSame(plain, allocator.CreateCache("m", 64, new SlabCacheOptions { Move = (_, _) => true }));
        Assert.NotSame(plain, allocator.CreateCache("p", 64, new SlabCacheOptions { Native = false }));
        Assert.NotSame(plain, allocator.CreateCache("n", 64, new SlabCacheOptions { AllowMerge = false }));
        Assert.Empty(plain.GetInfo().Aliases);

        using var debugging = new SlabAllocator(new SlabPoolsOptions { Debug = SlabDebugFlags.Poison });
        Assert.NotSame(debugging.GetKmallocCache(64), debugging.CreateCache("x", 64));
    }

    [Fact]
    public void Plain_user_caches_merge_with_each_other_when_sizes_differ_by_less_than_a_pointer()
    {
        using var allocator = new SlabAllocator();
        SlabCache first = allocator.CreateCache("pinned-a", 200, new SlabCacheOptions { Native = false });
        SlabCache second = allocator.CreateCache("pinned-b", 196, new SlabCacheOptions { Native = false });
        SlabCache third = allocator.CreateCache("pinned-c", 190, new SlabCacheOptions { Native = false });
        Assert.Same(first, second);
        Assert.NotSame(first, third);
        Assert.Equal(["pinned-b"], first.GetInfo().Aliases);
    }

    [Fact]
    public void Aligned_dma_caches_are_created_on_first_use_and_align_every_object()
    {
        using var allocator = new SlabAllocator();
        Assert.DoesNotContain(allocator.GetInfo(), i => i.Name.StartsWith("dma-", StringComparison.Ordinal));
        SlabCache dma = allocator.GetAlignedCache(4096);
        Assert.Equal("dma-kmalloc-4096", dma.Name);
        Assert.Same(dma, allocator.GetAlignedCache(4000));
        var objects = Enumerable.Range(0, 40).Select(_ => dma.Allocate()).ToList();
        Assert.All(objects, p => Assert.Equal(0, p % 4096));
        objects.ForEach(dma.Free);

        SlabCache small = allocator.GetAlignedCache(100, 64);
        Assert.Equal("kmalloc-104-a64", small.Name);
        var smalls = Enumerable.Range(0, 100).Select(_ => small.Allocate()).ToList();
        Assert.All(smalls, p => Assert.Equal(0, p % 64));
        smalls.ForEach(small.Free);
        Assert.Contains(allocator.GetInfo(), i => i.Name == "dma-kmalloc-4096");
        Assert.Throws<ArgumentOutOfRangeException>(() => allocator.GetAlignedCache(100, 48));
        Assert.Throws<ArgumentException>(() => allocator.CreateCache("x", 100, new SlabCacheOptions { Native = false, Alignment = 64 }));
    }
}
