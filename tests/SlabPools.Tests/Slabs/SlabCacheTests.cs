using System;
using System.Collections.Generic;
using System.Linq;
using SlabPools.Pages;
using SlabPools.Slabs;
using SlabPools.Tests.Infrastructure;
using Xunit;

namespace SlabPools.Tests.Slabs;

public class SlabCacheTests
{
    [Theory]
    [InlineData(16, true)]
    [InlineData(96, true)]
    [InlineData(4096, true)]
    [InlineData(4096, false)]
    [InlineData(100_000, true)]
    public unsafe void Objects_are_distinct_do_not_overlap_and_keep_their_contents(int size, bool native)
    {
        using var allocator = new SlabAllocator();
        SlabCache cache = allocator.CreateCache("test", size, new SlabCacheOptions { Native = native, AllowMerge = false });
        var objects = new List<nint>();
        for (int i = 0; i < 3 * cache.ObjectsPerSlab + 5; i++)
        {
            nint p = cache.Allocate();
            new Span<byte>((void*)p, cache.ObjectSize).Fill((byte)i);
            objects.Add(p);
        }

        Assert.Equal(objects.Count, objects.Distinct().Count());
        for (int i = 0; i < objects.Count; i++)
        {
            Assert.True(new Span<byte>((void*)objects[i], cache.ObjectSize).IndexOfAnyExcept((byte)i) < 0, $"object {i} was overwritten");
        }

        SlabCacheInfo info = cache.GetInfo();
        Assert.Equal(objects.Count, info.ActiveObjects);
        Assert.Equal(info.Slabs * cache.ObjectsPerSlab, info.TotalObjects);
        Assert.True(info.BytesReserved >= info.TotalObjects * cache.ObjectSize);

        foreach (nint p in objects)
        {
            cache.Free(p);
        }

        Assert.Equal(0, cache.GetInfo().ActiveObjects);
    }

    [Fact]
    public void Native_objects_of_a_page_are_coloured_so_they_do_not_all_start_at_the_same_offset_in_a_page()
    {
        int page = PageAllocator.PageSize;
        using var allocator = new SlabAllocator();
        SlabCache coloured = allocator.CreateCache("coloured", page, new SlabCacheOptions { Native = true, AllowMerge = false });
        var offsets = new HashSet<long>();
        for (int i = 0; i < coloured.ObjectsPerSlab; i++)
        {
            nint p = coloured.Allocate();
            Assert.Equal(0, p % SlabGeometry.ColourStep);
            offsets.Add(p % page);
        }

        // One slab's objects start one cache line apart in their pages (a few may come from a second slab).
        Assert.True(offsets.Count >= coloured.ObjectsPerSlab / 2, $"{offsets.Count} distinct offsets among {coloured.ObjectsPerSlab} objects");
        Assert.True(coloured.SlabBytes <= 1.04 * coloured.ObjectsPerSlab * page, $"{coloured.ObjectsPerSlab} objects in {coloured.SlabBytes} bytes");

        // Asked for page alignment (a dma- cache), the objects keep it: no colour.
        SlabCache aligned = allocator.CreateCache("aligned", page, new SlabCacheOptions { Native = true, AllowMerge = false, Alignment = page });
        for (int i = 0; i < 2 * aligned.ObjectsPerSlab; i++)
        {
            Assert.Equal(0, aligned.Allocate() % page);
        }

        // Larger objects are not coloured; neither are pinned slabs (their arrays start anywhere in a page).
        Assert.Equal(0, allocator.CreateCache("large", 2 * SlabGeometry.MaxColouredObject, new SlabCacheOptions { Native = true, AllowMerge = false }).Allocate() % page);
        SlabCache pinned = allocator.CreateCache("pinned", page, new SlabCacheOptions { Native = false, AllowMerge = false });
        Assert.Equal(page * pinned.ObjectsPerSlab, pinned.SlabBytes);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public unsafe void The_free_list_of_large_objects_is_kept_beside_them_so_a_write_after_free_cannot_derail_it(bool native)
    {
        using var allocator = new SlabAllocator();
        var log = new ErrorLog(allocator);
        SlabCache cache = allocator.CreateCache("side", 4096, new SlabCacheOptions { Native = native, AllowMerge = false });
        List<nint> all = Enumerable.Range(0, 3 * cache.ObjectsPerSlab).Select(_ => cache.Allocate()).ToList();

        // Every other object stays allocated, so no slab empties and the freed ones go back onto
        // their slabs' free lists when Shrink flushes the thread's magazine.
        List<nint> freed = all.Where((_, i) => i % 2 == 1).ToList();
        freed.ForEach(cache.Free);
        cache.Shrink();

        // A write after free into the first bytes of one of them (where a link threaded through the
        // objects would be; the free mark is at bytes 8..15 and stays intact).
        *(int*)freed[^1] = int.MaxValue;

        List<nint> again = Enumerable.Range(0, freed.Count).Select(_ => cache.Allocate()).ToList();
        Assert.Empty(log.Errors);
        Assert.Equal(freed.Order(), again.Order()); // each freed object handed out again, once
    }

    [Fact]
    public void Large_objects_get_a_slab_each()
    {
        using var allocator = new SlabAllocator();
        SlabCache cache = allocator.CreateCache("big", 200_000, new SlabCacheOptions { AllowMerge = false });
        Assert.Equal(1, cache.ObjectsPerSlab);
        nint a = cache.Allocate();
        nint b = cache.Allocate();
        Assert.NotEqual(a, b);
        cache.Free(a);
        cache.Free(b);
        Assert.Equal(2, cache.GetInfo().Slabs);
        Assert.Equal(0, cache.GetInfo().ActiveObjects);
        Assert.True(cache.Shrink() >= 400_000);
        Assert.Equal(0, cache.GetInfo().Slabs);
    }

    [Fact]
    public void Freed_objects_are_reused_before_new_slabs_are_made()
    {
        using var allocator = new SlabAllocator();
        SlabCache cache = allocator.CreateCache("reuse", 256, new SlabCacheOptions { AllowMerge = false });
        var first = Enumerable.Range(0, 200).Select(_ => cache.Allocate()).ToList();
        long slabs = cache.GetInfo().Slabs;
        first.ForEach(cache.Free);
        var second = Enumerable.Range(0, 200).Select(_ => cache.Allocate()).ToList();
        Assert.Equal(slabs, cache.GetInfo().Slabs);
        var firstSlabs = first.Select(p => allocator.Map.Find(p)).ToHashSet();
        Assert.All(second, p => Assert.Contains(allocator.Map.Find(p), firstSlabs));
        Assert.Equal(second.Count, second.Distinct().Count());
        second.ForEach(cache.Free);
    }

    [Fact]
    public void Empty_slabs_stay_cached_until_shrink_releases_them()
    {
        var pages = new NativePageAllocator();
        using var allocator = new SlabAllocator() { NativePages = pages };
        SlabCache cache = allocator.GetKmallocCache(4096);
        Assert.Equal("kmalloc-4096", cache.Name);
        var objects = Enumerable.Range(0, 1000).Select(_ => cache.Allocate()).ToList();
        long peak = cache.GetInfo().BytesReserved;
        Assert.Equal(peak, pages.BytesInUse);
        objects.ForEach(cache.Free);

        SlabCacheInfo idle = cache.GetInfo();
        Assert.Equal(0, idle.ActiveObjects);
        Assert.Equal(peak, idle.BytesReserved); // kept for the next burst

        long released = allocator.Shrink();
        Assert.Equal(peak, released);
        Assert.Equal(0, cache.GetInfo().BytesReserved);
        Assert.Equal(0, pages.BytesInUse);
        Assert.Equal(0, cache.GetInfo().Slabs);
    }

    [Fact]
    public void Objects_cached_per_thread_are_not_active()
    {
        using var allocator = new SlabAllocator();
        SlabCache cache = allocator.CreateCache("tier0", 64, new SlabCacheOptions { AllowMerge = false });
        nint a = cache.Allocate();
        nint b = cache.Allocate();
        cache.Free(a);
        SlabCacheInfo info = cache.GetInfo();
        Assert.Equal(1, info.ActiveObjects);
        Assert.True(info.FastAllocations + info.SlowAllocations >= 1);
        cache.Free(b);
        Assert.Equal(0, cache.GetInfo().ActiveObjects);
    }

    [Fact]
    public void Magazines_of_idle_and_exited_threads_are_flushed_by_shrink()
    {
        using var allocator = new SlabAllocator();
        SlabCache cache = allocator.CreateCache("threads", 1024, new SlabCacheOptions { AllowMerge = false });
        Run.OnNewThread(() =>
        {
            var objects = Enumerable.Range(0, 40).Select(_ => cache.Allocate()).ToList();
            objects.ForEach(cache.Free); // stays in this thread's magazine (and slabs)
        });

        Assert.Equal(0, cache.GetInfo().ActiveObjects);
        Assert.True(cache.GetInfo().Slabs > 0);
        cache.Shrink();
        SlabCacheInfo after = cache.GetInfo();
        Assert.Equal(0, after.Slabs);
        Assert.Equal(0, after.BytesReserved);
    }

    [Fact]
    public void Double_free_is_reported_once_and_the_cache_stays_consistent()
    {
        using var allocator = new SlabAllocator();
        var log = new ErrorLog(allocator);
        SlabCache cache = allocator.CreateCache("df", 128, new SlabCacheOptions { AllowMerge = false });
        nint a = cache.Allocate();
        nint b = cache.Allocate();
        cache.Free(a);
        cache.Free(a);
        Assert.Equal(1, log.Count(SlabErrorKind.DoubleFree));
        SlabErrorEventArgs e = log.Errors.Single();
        Assert.Equal("df", e.CacheName);
        Assert.StartsWith("BUG df: double free", e.Message);
        Assert.Contains("FIX df:", e.Message);
        Assert.True(e.ObjectOffset >= 0);

        // The object is handed out once, not twice.
        var next = new HashSet<nint> { cache.Allocate(), cache.Allocate() };
        Assert.Equal(2, next.Count);
        Assert.DoesNotContain(b, next);
        Assert.Equal(3, cache.GetInfo().ActiveObjects);
        Assert.Equal(1, allocator.ErrorCount(SlabErrorKind.DoubleFree));
    }

    [Fact]
    public void Double_free_after_the_object_reached_its_slab_is_still_caught()
    {
        using var allocator = new SlabAllocator();
        var log = new ErrorLog(allocator);
        SlabCache cache = allocator.CreateCache("df2", 64, new SlabCacheOptions { AllowMerge = false });
        var objects = Enumerable.Range(0, 500).Select(_ => cache.Allocate()).ToList();
        objects.ForEach(cache.Free); // most go past the magazine to their slabs
        cache.Free(objects[0]);
        cache.Free(objects[250]);
        Assert.Equal(2, log.Count(SlabErrorKind.DoubleFree));
        Assert.Equal(0, cache.GetInfo().ActiveObjects);
        Assert.Equal(500, Enumerable.Range(0, 500).Select(_ => cache.Allocate()).Distinct().Count());
    }

    [Fact]
    public void Throw_on_error_turns_reports_into_exceptions()
    {
        using var allocator = new SlabAllocator(new SlabPoolsOptions { ThrowOnError = true });
        SlabCache cache = allocator.CreateCache("throw", 32, new SlabCacheOptions { AllowMerge = false });
        nint a = cache.Allocate();
        cache.Free(a);
        SlabErrorException e = Assert.Throws<SlabErrorException>(() => cache.Free(a));
        Assert.Equal(SlabErrorKind.DoubleFree, e.Kind);
        Assert.Equal(0, cache.GetInfo().ActiveObjects);
    }

    [Fact]
    public unsafe void Foreign_and_misaligned_pointers_are_reported_and_ignored()
    {
        using var allocator = new SlabAllocator();
        var log = new ErrorLog(allocator);
        SlabCache cache = allocator.CreateCache("foreign", 64, new SlabCacheOptions { AllowMerge = false });
        SlabCache other = allocator.CreateCache("other", 64, new SlabCacheOptions { AllowMerge = false });
        nint mine = cache.Allocate();
        nint theirs = other.Allocate();
        byte* stack = stackalloc byte[64];

        cache.Free((nint)stack);
        cache.Free(mine + 8);
        cache.Free(theirs);
        Assert.Equal(3, log.Count(SlabErrorKind.ForeignObject));
        Assert.Contains("belongs to cache other", log.Errors[2].Message);
        Assert.Equal(1, cache.GetInfo().ActiveObjects);
        Assert.Equal(1, other.GetInfo().ActiveObjects);
        cache.Free(mine);
        other.Free(theirs);
        Assert.Equal(3, log.Errors.ToArray().Length);
    }

    [Fact]
    public unsafe void A_write_after_free_is_reported_when_the_object_is_handed_out_again()
    {
        using var allocator = new SlabAllocator();
        var log = new ErrorLog(allocator);
        SlabCache cache = allocator.CreateCache("uaf", 64, new SlabCacheOptions { AllowMerge = false });
        nint a = cache.Allocate();
        cache.Free(a);
        new Span<byte>((void*)a, 64).Fill(0x5A); // use after free
        nint again = cache.Allocate();
        Assert.Equal(a, again);
        Assert.Equal(1, log.Count(SlabErrorKind.UseAfterFree));
        cache.Free(again);
        Assert.Single(log.Errors);
    }

    [Fact]
    public unsafe void A_damaged_free_list_is_isolated_and_never_hands_an_object_out_twice()
    {
        using var allocator = new SlabAllocator();
        var log = new ErrorLog(allocator);
        SlabCache cache = allocator.CreateCache("chain", 64, new SlabCacheOptions { AllowMerge = false });
        var objects = Enumerable.Range(0, cache.ObjectsPerSlab).Select(_ => cache.Allocate()).ToList();
        objects.ForEach(cache.Free);
        allocator.Shrink(); // empty slabs released; start over with a known slab
        objects = Enumerable.Range(0, 3 * cache.ObjectsPerSlab).Select(_ => cache.Allocate()).ToList();
        objects.ForEach(cache.Free); // some stay in this thread's magazine, most go to their slabs

        // Damage every free object's link and mark that sits on a slab free list.
        foreach (nint p in objects)
        {
            *(int*)p = 12345;
            *(long*)(p + 8) = 0;
        }

        var handedOut = new HashSet<nint>();
        for (int i = 0; i < 2 * cache.ObjectsPerSlab; i++)
        {
            Assert.True(handedOut.Add(cache.Allocate()));
        }

        Assert.True(log.Count(SlabErrorKind.UseAfterFree) >= 1);
        Assert.Equal(0, log.Count(SlabErrorKind.DoubleFree));
    }

    [Fact]
    public void Bad_cache_arguments_are_refused()
    {
        using var allocator = new SlabAllocator();
        Assert.Throws<ArgumentOutOfRangeException>(() => allocator.CreateCache("tiny", 0, new SlabCacheOptions { AllowMerge = false }));
        Assert.Throws<ArgumentException>(() => allocator.CreateCache(" ", 64, new SlabCacheOptions { AllowMerge = false }));
        Assert.Throws<ArgumentOutOfRangeException>(() => allocator.GetKmallocCache(-1));
        Assert.Throws<ArgumentOutOfRangeException>(() => allocator.GetKmallocCache(SizeClasses.MaxSize + 1));
    }

    [Fact]
    public void Disposed_allocator_refuses_new_slabs()
    {
        var allocator = new SlabAllocator();
        SlabCache cache = allocator.CreateCache("d", 64, new SlabCacheOptions { AllowMerge = false });
        nint a = cache.Allocate();
        allocator.Dispose();
        cache.Free(a);
        Assert.Throws<ObjectDisposedException>(() => allocator.CreateCache("e", 64, new SlabCacheOptions { AllowMerge = false }));
    }

    [Fact]
    public void Kmalloc_caches_are_shared_per_class_and_named_after_it()
    {
        using var allocator = new SlabAllocator();
        Assert.Same(allocator.GetKmallocCache(65 + 24), allocator.GetKmallocCache(96));
        Assert.Equal("kmalloc-192", allocator.GetKmallocCache(180).Name);
        Assert.Equal(192, allocator.GetKmallocCache(180).ObjectSize);
        Assert.Equal("kmalloc-16", allocator.GetKmallocCache(0).Name);
    }

    [Fact]
    public void Invalid_options_are_refused_with_every_problem_named()
    {
        var e = Assert.Throws<ArgumentException>(() => new SlabAllocator(new SlabPoolsOptions { FlushInterval = TimeSpan.Zero, Debug = (SlabDebugFlags)64 }));
        Assert.Contains("FlushInterval", e.Message);
        Assert.Contains("Debug", e.Message);
    }

    /// <summary>A topology whose "current processor" changes on every read, as for a thread the scheduler keeps moving.</summary>
    private sealed class MigratingTopology() : NodeTopology([0, 0])
    {
        private int _reads;

        public override int CurrentProcessor => System.Threading.Interlocked.Increment(ref _reads) & 1;
    }

    [Fact]
    public void A_thread_that_moves_to_another_processor_mid_refill_makes_one_slab_not_two()
    {
        // The first page request succeeds, every later one fails: a refill that made a slab for one
        // processor's slot and then went on to the next processor's empty slot would fail here,
        // leaving the first slab behind.
        var pages = new FailingPageAllocator(new NativePageAllocator(), call => call > 1);
        using var allocator = new SlabAllocator(new SlabPoolsOptions { Topology = new MigratingTopology() }) { NativePages = pages };
        SlabCache cache = allocator.CreateCache("migrating", 256, new SlabCacheOptions { Native = true, AllowMerge = false });

        nint p = cache.Allocate();
        SlabCacheInfo info = allocator.GetInfo().Single(i => i.Name == "migrating");
        Assert.Equal(1, info.Slabs);
        Assert.Equal(1, pages.Calls);
        cache.Free(p);
    }
}
