using System;
using System.Buffers;
using System.Collections.Generic;
using System.Linq;
using System.Runtime.InteropServices;
using CsCheck;
using Microsoft.Extensions.Time.Testing;
using SlabPools.Pages;
using SlabPools.Tests.Infrastructure;
using Xunit;

namespace SlabPools.Tests.Reliability;

/// <summary>
/// Bad input at every public entry point, as properties over generated values (fixed seeds, see
/// <see cref="Property"/>): each is refused with a clear exception or reported and ignored, and
/// afterwards the pools still work and <see cref="SlabAllocator.GetInfo"/> counts are unchanged.
/// </summary>
public class BadInputTests
{
    private const int Max = SizeClasses.MaxSize;

    // ----- generators ------------------------------------------------------------------------------

    /// <summary>Sizes from 1 to 1 MiB, log-uniform (every power of two as likely as the next).</summary>
    private static readonly Gen<int> s_classSize =
        Gen.Int[0, 20].SelectMany(k => Gen.Int[1 << k, Math.Min(Max, (2 << k) - 1)]);

    /// <summary>Any int, with the boundaries and the valid range well represented.</summary>
    private static readonly Gen<int> s_anyInt = Gen.Frequency(
        (3, Gen.Int),
        (2, Gen.OneOf(int.MinValue, -2, -1, 0, 1, 15, 16, 17, Max - 1, Max, Max + 1, int.MaxValue)),
        (3, s_classSize));

    /// <summary>Alignments: any int, powers of two up to 2^14, and near misses.</summary>
    private static readonly Gen<int> s_alignment = Gen.Frequency(
        (1, Gen.Int),
        (3, Gen.Int[0, 14].Select(k => 1 << k)),
        (1, Gen.OneOf(0, -8, 3, 12, 24, 4095, 4097, 8192, int.MinValue)));

    // ----- helpers ------------------------------------------------------------------------------

    private static SlabAllocator NewAllocator(SlabDebugFlags debug = SlabDebugFlags.None) =>
        new(new SlabPoolsOptions { TimeProvider = new FakeTimeProvider(), Debug = debug, Topology = new NodeTopology([0]) });

    private readonly record struct Counts(long Active, long Total, long Slabs, long Reserved);

    private static Dictionary<string, Counts> Snapshot(SlabAllocator allocator) =>
        allocator.GetInfo().ToDictionary(i => i.Name, i => new Counts(i.ActiveObjects, i.TotalObjects, i.Slabs, i.BytesReserved));

    /// <summary>Every cache shows what it showed before (a cache made since counts as all zeros before).</summary>
    private static void AssertUnchanged(Dictionary<string, Counts> before, SlabAllocator allocator)
    {
        foreach (SlabCacheInfo i in allocator.GetInfo())
        {
            Counts was = before.TryGetValue(i.Name, out Counts c) ? c : default;
            Assert.Equal(was, new Counts(i.ActiveObjects, i.TotalObjects, i.Slabs, i.BytesReserved));
        }
    }

    /// <summary>After bad input: the counts are what they were, and the pools still work.</summary>
    private static void AssertUnchangedAndWorking(Dictionary<string, Counts> before, SlabAllocator allocator)
    {
        AssertUnchanged(before, allocator);
        AssertRoundTrip(allocator);
    }

    /// <summary>A rent and return on every pool works, and leaves the active counts where they were.</summary>
    private static void AssertRoundTrip(SlabAllocator allocator)
    {
        long active = Faces.Active(allocator);
        byte[] a = allocator.ArrayPool.Rent(100);
        IMemoryOwner<byte> m = allocator.MemoryPool.Rent();
        IMemoryOwner<byte> n = allocator.NativeBufferPool.Rent(100);
        nint p = allocator.NativeBufferPool.Allocate(100);
        Assert.Equal(active + 4, Faces.Active(allocator));
        a[99] = 1;
        m.Memory.Span[4095] = 1;
        n.Memory.Span[99] = 1;
        Marshal.WriteByte(p, 99, 1);
        allocator.ArrayPool.Return(a);
        m.Dispose();
        n.Dispose();
        allocator.NativeBufferPool.Free(p);
        Assert.Equal(active, Faces.Active(allocator));
    }

    // ----- sizes --------------------------------------------------------------------------------

    [Fact]
    public void Array_pool_rent_of_any_length()
    {
        using SlabAllocator allocator = NewAllocator();
        var log = new ErrorLog(allocator);
        ArrayPool<byte> pool = allocator.ArrayPool;
        Gen<int> lengths = Gen.Frequency((2, Gen.Int[int.MinValue, -1]), (1, s_anyInt.Where(n => n <= 4 * Max)), (4, s_classSize), (1, Gen.Int[Max + 1, 4 * Max]));
        Property.ForAll(lengths, n =>
        {
            var before = Snapshot(allocator);
            if (n < 0)
            {
                Assert.Throws<ArgumentOutOfRangeException>("minimumLength", () => pool.Rent(n));
                AssertUnchangedAndWorking(before, allocator);
            }
            else if (n == 0)
            {
                byte[] empty = pool.Rent(0);
                Assert.Empty(empty);
                pool.Return(empty);
                AssertUnchanged(before, allocator);
            }
            else if (n <= Max)
            {
                byte[] a = pool.Rent(n);
                Assert.Equal(SizeClasses.ClassSizeOf(n), a.Length);
                Assert.True(a.Length >= n);
                a[n - 1] = 1;
                pool.Return(a);
                Assert.Equal(0, Faces.Active(allocator));
            }
            else
            {
                byte[] a = pool.Rent(n);
                Assert.Equal(n, a.Length); // exact, not pooled
                pool.Return(a);             // dropped
                AssertUnchanged(before, allocator);
            }
        }, seed: 1);

        AssertRoundTrip(allocator);
        Assert.Empty(log.Errors);
    }

    [Theory]
    [InlineData("pinned")]
    [InlineData("native")]
    public void Memory_pool_rent_of_any_size(string which)
    {
        using SlabAllocator allocator = NewAllocator();
        var log = new ErrorLog(allocator);
        MemoryPool<byte> pool = which == "pinned" ? allocator.MemoryPool : allocator.NativeBufferPool;
        Assert.Equal(Max, pool.MaxBufferSize);
        using (IMemoryOwner<byte> d = pool.Rent())
        {
            Assert.Equal(4096, d.Memory.Length);
        }

        Property.ForAll(s_anyInt, n =>
        {
            var before = Snapshot(allocator);
            if (n is -1 or 0)
            {
                using IMemoryOwner<byte> o = pool.Rent(n);
                Assert.Equal(4096, o.Memory.Length);
            }
            else if (n >= 1 && n <= Max)
            {
                IMemoryOwner<byte> o = pool.Rent(n);
                Assert.True(o.Memory.Length >= n, $"{o.Memory.Length} < {n}");
                o.Memory.Span[n - 1] = 1;
                o.Dispose();
                Assert.Throws<ObjectDisposedException>(() => o.Memory);
            }
            else
            {
                Assert.Throws<ArgumentOutOfRangeException>(() => pool.Rent(n));
                AssertUnchangedAndWorking(before, allocator);
            }

            Assert.Equal(0, Faces.Active(allocator));
        }, seed: 2);

        AssertRoundTrip(allocator);
        Assert.Empty(log.Errors);
    }

    [Fact]
    public void Native_allocate_of_any_size()
    {
        var pages = new NativePageAllocator();
        using var allocator = new SlabAllocator(new SlabPoolsOptions { TimeProvider = new FakeTimeProvider() }) { NativePages = pages };
        var log = new ErrorLog(allocator);
        NativeBufferPool pool = allocator.NativeBufferPool;
        Gen<long> sizes = Gen.Frequency(
            (2, Gen.Long[long.MinValue, -1]),
            (1, Gen.OneOf(long.MinValue, -1L, 0L, 1L, 16L, Max, Max + 1L)),
            (4, s_classSize.Select(n => (long)n)),
            (1, Gen.Long[Max + 1L, 3L * Max]));
        Property.ForAll(sizes, n =>
        {
            var before = Snapshot(allocator);
            long mapped = pages.BytesInUse;
            if (n < 0)
            {
                Assert.Throws<ArgumentOutOfRangeException>("size", () => pool.Allocate(n));
                AssertUnchangedAndWorking(before, allocator);
                return;
            }

            nint p = pool.Allocate(n);
            Assert.True(pool.GetUsableSize(p) >= Math.Max(n, 1));
            if (n > 0)
            {
                Marshal.WriteByte(p, (int)(n - 1), 1);
            }

            pool.Free(p);
            Assert.Equal(0, Faces.Active(allocator));
            if (n > Max)
            {
                Assert.Equal(mapped, pages.BytesInUse); // a large block goes straight back
                AssertUnchanged(before, allocator);
            }
        }, seed: 3);

        AssertRoundTrip(allocator);
        Assert.Empty(log.Errors);
        allocator.Shrink();
        Assert.Equal(0, pages.BytesInUse);
    }

    [Theory]
    [InlineData(SlabDebugFlags.All, false)]
    [InlineData(SlabDebugFlags.RedZone | SlabDebugFlags.Poison, false)]
    [InlineData(SlabDebugFlags.RedZone, true)]
    [InlineData(SlabDebugFlags.All, true)]
    public void Pointer_buffers_of_any_size_filled_to_the_end_are_freed_without_a_report_in_every_debug_mode(SlabDebugFlags debug, bool clearOnReturn)
    {
        using var allocator = new SlabAllocator(new SlabPoolsOptions { TimeProvider = new FakeTimeProvider(), Debug = debug, ClearOnReturn = clearOnReturn });
        var log = new ErrorLog(allocator);
        NativeBufferPool pool = allocator.NativeBufferPool;
        Property.ForAll(Gen.Frequency((1, Gen.Int[0, 300]), (2, s_classSize)), n =>
        {
            nint p = pool.Allocate(n);
            unsafe
            {
                new Span<byte>((void*)p, n).Fill(0x5a); // every byte asked for, none past it
            }

            pool.Free(p);
            Assert.True(log.Errors.Count == 0, string.Join("\n", log.Errors.Select(e => e.Message)));
        }, seed: 4, iter: 300);

        Assert.Equal(0, Faces.Active(allocator));
        Assert.Empty(log.Errors);
    }

    [Fact]
    public void Kmalloc_cache_of_any_size()
    {
        using SlabAllocator allocator = NewAllocator();
        Property.ForAll(s_anyInt, n =>
        {
            var before = Snapshot(allocator);
            if (n < 0 || n > Max)
            {
                Assert.Throws<ArgumentOutOfRangeException>("size", () => allocator.GetKmallocCache(n));
            }
            else
            {
                SlabCache cache = allocator.GetKmallocCache(n);
                Assert.Equal(SizeClasses.ClassSizeOf(n), cache.ObjectSize);
                Assert.Equal("kmalloc-" + cache.ObjectSize, cache.Name);
                Assert.Same(cache, allocator.GetKmallocCache(cache.ObjectSize));
            }

            AssertUnchangedAndWorking(before, allocator);
        }, seed: 5);

        AssertRoundTrip(allocator);
    }

    [Fact]
    public void Aligned_cache_of_any_size_and_alignment()
    {
        using SlabAllocator allocator = NewAllocator();
        int made = 0;
        Property.ForAll(Gen.Select(s_anyInt, s_alignment), (size, alignment) =>
        {
            var before = Snapshot(allocator);
            bool sizeOk = size >= 0 && size <= Max;
            bool alignmentOk = alignment >= 8 && alignment <= 4096 && (alignment & (alignment - 1)) == 0;
            if (!sizeOk || !alignmentOk)
            {
                var e = Assert.Throws<ArgumentOutOfRangeException>(() => allocator.GetAlignedCache(size, alignment));
                Assert.Contains(e.ParamName, new[] { sizeOk ? null : "size", alignmentOk ? null : "alignment" }, StringComparer.OrdinalIgnoreCase);
                AssertUnchangedAndWorking(before, allocator);
                return;
            }

            SlabCache cache = allocator.GetAlignedCache(size, alignment);
            made++;
            Assert.Equal(alignment, cache.Alignment);
            Assert.True(cache.ObjectSize >= size);
            if (size <= 64 * 1024)
            {
                nint p = cache.Allocate();
                Assert.Equal(0, p % alignment);
                cache.Free(p);
                cache.Shrink();
            }

            AssertUnchanged(before, allocator);
        }, seed: 6, iter: 300);

        Assert.True(made > 25, $"only {made} valid caches were tried");
        AssertRoundTrip(allocator);
    }

    [Fact]
    public void Create_cache_with_any_arguments()
    {
        using SlabAllocator allocator = NewAllocator();
        Gen<string?> names = Gen.Frequency(
            (1, Gen.OneOf<string?>(null, "", " ", "\t\n", "\u2003")),
            (2, Gen.String.Select(s => (string?)s)));
        Gen<int> sizes = Gen.Frequency(
            (2, Gen.Int),
            (2, Gen.OneOf(int.MinValue, -1, 0, 1, 16, Array.MaxLength / 2, (Array.MaxLength / 2) + 1, int.MaxValue)),
            (3, Gen.Int[1, 64 * 1024]));
        int made = 0;
        Property.ForAll(Gen.Select(names, sizes, s_alignment, Gen.Bool), t =>
        {
            (string? name, int size, int alignment, bool native) = t;
            var bad = new List<string>();
            if (string.IsNullOrWhiteSpace(name))
            {
                bad.Add("name");
            }

            if (alignment < 8 || alignment > 4096 || (alignment & (alignment - 1)) != 0 || (alignment > 8 && !native))
            {
                bad.Add("alignment");
            }

            if (size < 1 || size > Array.MaxLength / 2)
            {
                bad.Add("objectSize");
            }

            var before = Snapshot(allocator);
            int caches = allocator.GetInfo().Count;
            var options = new SlabCacheOptions { Alignment = alignment, Native = native, AllowMerge = (size & 1) == 0 };
            if (bad.Count > 0)
            {
                var e = Assert.ThrowsAny<ArgumentException>(() => allocator.CreateCache(name!, size, options));
                Assert.Contains(e.ParamName, bad, StringComparer.OrdinalIgnoreCase);
                Assert.Equal(caches, allocator.GetInfo().Count); // nothing half made
                AssertUnchangedAndWorking(before, allocator);
                return;
            }

            SlabCache cache = allocator.CreateCache(name!, size, options);
            made++;
            Assert.True(cache.ObjectSize >= size);
            Assert.Equal(0, cache.Alignment % alignment);
            if (size <= 64 * 1024)
            {
                nint p = cache.Allocate();
                Assert.Equal(0, p % alignment);
                Marshal.WriteByte(p, size - 1, 1);
                cache.Free(p);
                cache.Shrink();
            }

            AssertUnchanged(before, allocator);
        }, seed: 7);

        Assert.True(made > 25, $"only {made} valid caches were tried");
        Assert.Throws<ArgumentNullException>("name", () => allocator.CreateCache(null!, 64));
        Assert.Throws<ArgumentException>("name", () => allocator.CreateCache(" ", 64));
        AssertRoundTrip(allocator);
    }

    // ----- nulls and foreign arrays ------------------------------------------------------------

    [Fact]
    public void Returning_null_throws_and_changes_nothing()
    {
        using SlabAllocator allocator = NewAllocator();
        byte[] held = allocator.ArrayPool.Rent(1000);
        var before = Snapshot(allocator);
        Assert.Throws<ArgumentNullException>("array", () => allocator.ArrayPool.Return(null!));
        Assert.Throws<ArgumentNullException>("array", () => allocator.ArrayPool.Return(null!, clearArray: true));
        AssertUnchanged(before, allocator);
        AssertRoundTrip(allocator);
        allocator.ArrayPool.Return(held);
    }

    /// <summary>Lengths of foreign arrays: class sizes, near misses, 0 and beyond the largest class.</summary>
    private static readonly Gen<int> s_foreignLength = Gen.Frequency(
        (2, s_classSize),
        (2, s_classSize.Select(SizeClasses.ClassSizeOf)),
        (1, Gen.OneOf(0, 1, 15, 16, 17, Max - 1, Max, Max + 1)),
        (1, Gen.Int[Max + 1, 2 * Max]));

    [Fact]
    public void Foreign_arrays_that_cannot_be_pooled_are_refused_or_dropped_and_change_nothing()
    {
        using SlabAllocator allocator = NewAllocator();
        var log = new ErrorLog(allocator);
        ArrayPool<byte> pool = allocator.ArrayPool;
        byte[] held = pool.Rent(1000); // counts that are not all zero
        Property.ForAll(s_foreignLength.Where(n => n == 0 || n > Max || SizeClasses.ClassSizeOf(n) != n), n =>
        {
            var before = Snapshot(allocator);
            var foreign = new byte[n];
            if (n == 0 || n > Max)
            {
                pool.Return(foreign); // dropped, as ArrayPool<byte>.Shared drops what it cannot pool
            }
            else
            {
                Assert.Throws<ArgumentException>("array", () => pool.Return(foreign));
            }

            AssertUnchangedAndWorking(before, allocator);
        }, seed: 8);

        AssertRoundTrip(allocator);
        pool.Return(held);
        Assert.Empty(log.Errors);
    }

    [Fact]
    public void Foreign_arrays_of_a_class_length_are_accepted_as_the_shared_pool_does()
    {
        using SlabAllocator allocator = NewAllocator();
        var log = new ErrorLog(allocator);
        ArrayPool<byte> pool = allocator.ArrayPool;
        Property.ForAll(s_classSize.Select(SizeClasses.ClassSizeOf), n =>
        {
            var foreign = new byte[n];
            pool.Return(foreign); // adopted: the next rent of the class on this thread hands it out
            byte[] a = pool.Rent(n);
            byte[] b = pool.Rent(n);
            Assert.Same(foreign, a);
            Assert.NotSame(a, b);
            Assert.Equal(n, b.Length);
            pool.Return(b);
            pool.Return(a);
        }, seed: 13, iter: 200);

        Assert.Empty(log.Errors);
    }

    [Fact]
    public void With_consistency_checks_foreign_arrays_are_reported_and_ignored()
    {
        using SlabAllocator allocator = NewAllocator(SlabDebugFlags.ConsistencyChecks);
        var log = new ErrorLog(allocator);
        ArrayPool<byte> pool = allocator.ArrayPool;
        int expected = 0;
        Property.ForAll(s_foreignLength, n =>
        {
            var before = Snapshot(allocator);
            var foreign = new byte[n];
            bool classLength = n >= 1 && n <= Max && SizeClasses.ClassSizeOf(n) == n;
            if (classLength)
            {
                pool.Return(foreign);
                expected++;
                Assert.Equal(expected, log.Count(SlabErrorKind.ForeignObject));
                Assert.Equal(SlabErrorKind.ForeignObject, log.Errors[^1].Kind);
            }
            else if (n == 0 || n > Max)
            {
                pool.Return(foreign);
            }
            else
            {
                Assert.Throws<ArgumentException>("array", () => pool.Return(foreign));
            }

            Assert.Equal(expected, log.Errors.Count);
            AssertUnchangedAndWorking(before, allocator);

            // The foreign array was not pooled: it is never handed out.
            if (classLength)
            {
                byte[] a = pool.Rent(n);
                Assert.NotSame(foreign, a);
                pool.Return(a);
            }
        }, seed: 9, iter: 300);

        AssertRoundTrip(allocator);
        Assert.Equal(expected, log.Errors.Count);
    }

    // ----- foreign and misaligned pointers -------------------------------------------------------

    [Theory]
    [InlineData(SlabDebugFlags.None)]
    [InlineData(SlabDebugFlags.All)]
    public unsafe void Foreign_pointers_are_reported_and_change_nothing(SlabDebugFlags debug)
    {
        using SlabAllocator allocator = NewAllocator(debug);
        var log = new ErrorLog(allocator);
        var faces = new Faces(allocator);

        // Live objects in every cache, so that the slab map is not empty.
        var live = Faces.All.Where(f => f != Face.Array).SelectMany(f => Enumerable.Range(0, 20).Select(i => faces.Rent(f, 64 << (i % 10)))).ToList();
        live.ForEach(b => b.Stamp(b.Length));
        SlabCache[] caches = [faces.NativeCache, faces.PinnedCache, faces.AlignedCache, allocator.GetKmallocCache(64), allocator.GetKmallocCache(4096)];

        const int BlockSize = 64 * 1024;
        byte* block = (byte*)NativeMemory.AllocZeroed(BlockSize);
        byte* stack = stackalloc byte[256];
        try
        {
            int reports = 0;
            Gen<(int Where, int Offset, int Target)> gen = Gen.Select(Gen.Int[0, 2], Gen.Int[0, BlockSize - 1], Gen.Int[0, caches.Length]);
            Property.ForAll(gen, t =>
            {
                (int where, int offset, int target) = t;
                nint p = where switch
                {
                    0 => (nint)(block + offset),
                    1 => (nint)(stack + (offset % 256)),
                    _ => (nint)Marshal.AllocHGlobal(64), // a fresh heap pointer, freed below
                };
                var before = Snapshot(allocator);
                if (target == caches.Length)
                {
                    allocator.NativeBufferPool.Free(p);
                }
                else
                {
                    caches[target].Free(p);
                }

                reports++;
                Assert.Equal(reports, log.Errors.Count);
                Assert.Equal(SlabErrorKind.ForeignObject, log.Errors[^1].Kind);
                AssertUnchangedAndWorking(before, allocator);
                if (where == 2)
                {
                    Marshal.FreeHGlobal(p);
                }
            }, seed: 10, iter: debug == SlabDebugFlags.None ? 300 : 80); // tracking captures a stack per rent

            Assert.All(live, b => Assert.True(b.Verify()));
            AssertRoundTrip(allocator);
            Assert.Equal(reports, log.Count(SlabErrorKind.ForeignObject));
            Assert.Equal(reports, log.Errors.Count);
        }
        finally
        {
            NativeMemory.Free(block);
        }

        Assert.Equal(0, Faces.ReturnAll(live));
        Assert.Equal(0, Faces.Active(allocator));
    }

    [Theory]
    [InlineData(SlabDebugFlags.None)]
    [InlineData(SlabDebugFlags.All)]
    public void Pointers_inside_an_object_and_objects_of_another_cache_are_reported_and_change_nothing(SlabDebugFlags debug)
    {
        using SlabAllocator allocator = NewAllocator(debug);
        var log = new ErrorLog(allocator);
        var faces = new Faces(allocator);
        NativeBufferPool pool = allocator.NativeBufferPool;

        // Objects whose frees may come as pointers: (address, object size, its own free, another cache's free).
        var objects = new List<(nint Address, int Size, Action<nint> Free)>();
        foreach (int n in new[] { 16, 100, 192, 1000, 4096, 20_000, 70_000, 300_000 })
        {
            objects.Add((pool.Allocate(n), allocator.GetKmallocCache(n).ObjectSize, pool.Free));
            SlabCache kmalloc = allocator.GetKmallocCache(n);
            objects.Add((kmalloc.Allocate(), kmalloc.ObjectSize, kmalloc.Free));
        }

        foreach (SlabCache c in new[] { faces.NativeCache, faces.PinnedCache, faces.AlignedCache })
        {
            objects.Add((c.Allocate(), c.ObjectSize, c.Free));
        }

        SlabCache other = allocator.CreateCache("other", 48, new SlabCacheOptions { AllowMerge = false });
        int reports = 0;
        Property.ForAll(Gen.Select(Gen.Int[0, objects.Count - 1], Gen.Int[1, int.MaxValue], Gen.Bool), (which, k, elsewhere) =>
        {
            (nint address, int size, Action<nint> free) = objects[which];
            var before = Snapshot(allocator);
            if (elsewhere)
            {
                other.Free(address); // a real object, of another cache
            }
            else
            {
                free(address + 1 + (k % (size - 1))); // inside the object, not at its start
            }

            reports++;
            Assert.Equal(reports, log.Errors.Count);
            Assert.Equal(SlabErrorKind.ForeignObject, log.Errors[^1].Kind);
            AssertUnchangedAndWorking(before, allocator);
        }, seed: 11, iter: debug == SlabDebugFlags.None ? 500 : 60); // tracking captures a stack per rent

        foreach ((nint address, _, Action<nint> free) in objects)
        {
            free(address); // the real frees still work
        }

        Assert.Equal(reports, log.Errors.Count);
        Assert.Equal(0, Faces.Active(allocator));
        AssertRoundTrip(allocator);
    }

    // ----- options ---------------------------------------------------------------------------------

    [Fact]
    public void Options_out_of_range_are_refused_naming_every_bad_setting()
    {
        Gen<long> intervals = Gen.Frequency(
            (2, Gen.Long),
            (2, Gen.OneOf(long.MinValue, -1L, 0L, 1L, TimeSpan.TicksPerMillisecond, TimeSpan.TicksPerDay, TimeSpan.TicksPerDay + 1, long.MaxValue)),
            (3, Gen.Long[1, TimeSpan.TicksPerDay]));
        Gen<int> flags = Gen.Frequency((1, Gen.Int), (3, Gen.Int[0, 15]), (1, Gen.OneOf(16, 32, 64, -1, int.MinValue)));
        Property.ForAll(Gen.Select(intervals, flags, Gen.Int[0, 9]), t =>
        {
            (long ticks, int bits, int clock) = t;
            var time = new FakeTimeProvider();
            var options = new SlabPoolsOptions { FlushInterval = TimeSpan.FromTicks(ticks), Debug = (SlabDebugFlags)bits, TimeProvider = clock == 0 ? null! : time };
            var bad = new List<string>();
            if (ticks <= 0 || ticks > TimeSpan.TicksPerDay)
            {
                bad.Add("FlushInterval");
            }

            if (clock == 0)
            {
                bad.Add("TimeProvider");
            }

            if ((bits & ~(int)SlabDebugFlags.All) != 0)
            {
                bad.Add("Debug");
            }

            IReadOnlyList<string> problems = options.Validate();
            Assert.Equal(bad.Count, problems.Count);
            for (int i = 0; i < bad.Count; i++)
            {
                Assert.Contains("SlabPools:" + bad[i], problems[i]);
            }

            if (bad.Count > 0)
            {
                var e = Assert.Throws<ArgumentException>(() => new SlabAllocator(options));
                Assert.All(bad, setting => Assert.Contains(setting, e.Message));
                return;
            }

            using var allocator = new SlabAllocator(options);
            AssertRoundTrip(allocator);
            time.Advance(TimeSpan.FromTicks(ticks) * 3);
            AssertRoundTrip(allocator);
        }, seed: 12, iter: 300);
    }

    // ----- a disposed allocator ------------------------------------------------------------------

    [Fact]
    public void A_disposed_allocator_refuses_allocations_and_takes_back_what_it_handed_out()
    {
        var native = new NativePageAllocator();
        var pinned = new PinnedPageAllocator();
        var allocator = new SlabAllocator(new SlabPoolsOptions { TimeProvider = new FakeTimeProvider() }) { NativePages = native, PinnedPages = pinned };
        var log = new ErrorLog(allocator);
        var faces = new Faces(allocator);
        var random = new Random(13);
        var live = Enumerable.Range(0, 200).Select(i => faces.Rent(Faces.All[i % Faces.All.Length], Faces.RandomSize(random))).ToList();
        live.Add(faces.Rent(Face.NativePointer, 3 * Max)); // a large block
        live.ForEach(b => b.Stamp(b.Length));
        SlabCache kmalloc = allocator.GetKmallocCache(100);

        allocator.Dispose();
        var before = Snapshot(allocator);
        Action[] allocations =
        [
            () => allocator.ArrayPool.Rent(100),
            () => allocator.ArrayPool.Rent(SizeClasses.Sizes[^2]),
            () => allocator.MemoryPool.Rent(),
            () => allocator.MemoryPool.Rent(0),
            () => allocator.MemoryPool.Rent(Max),
            () => allocator.NativeBufferPool.Rent(-1),
            () => allocator.NativeBufferPool.Rent(Max - 5),
            () => allocator.NativeBufferPool.Allocate(100),
            () => allocator.NativeBufferPool.Allocate(3 * Max),
            () => kmalloc.Allocate(),
            () => allocator.GetKmallocCache(Max).Allocate(),
            () => faces.NativeCache.Allocate(),
            () => faces.PinnedCache.Allocate(),
            () => faces.AlignedCache.Allocate(),
            () => allocator.GetAlignedCache(100, 16),
            () => allocator.CreateCache("after-dispose", 64),
            () => allocator.CreateCache("after-dispose", kmalloc.ObjectSize), // would merge into kmalloc-104
            () => allocator.CreateCache("after-dispose-pinned", 64, native: false),
        ];
        foreach (Action allocate in allocations)
        {
            Assert.Throws<ObjectDisposedException>(allocate);
            AssertUnchanged(before, allocator);
        }

        // Bad input is still refused or reported the same way.
        Assert.Throws<ArgumentNullException>(() => allocator.ArrayPool.Return(null!));
        Assert.Throws<ArgumentOutOfRangeException>(() => allocator.MemoryPool.Rent(-5));
        Span<byte> local = stackalloc byte[16];
        unsafe
        {
            fixed (byte* q = local)
            {
                allocator.NativeBufferPool.Free((nint)q);
            }
        }

        Assert.Equal(SlabErrorKind.ForeignObject, Assert.Single(log.Errors).Kind);

        // What was handed out before stays usable and comes back; each slab goes as its last object returns.
        Assert.All(live, b => Assert.True(b.Verify()));
        Assert.Equal(0, Faces.ReturnAll(live));
        Assert.Single(log.Errors);
        Assert.Equal(0, Faces.Active(allocator));
        Assert.Equal(0, native.BytesInUse);
        Assert.Equal(0, pinned.BytesInUse);
        Assert.All(allocator.GetInfo(), i => Assert.Equal(0, i.BytesReserved));
        allocator.Dispose();
    }
}
