using System;
using System.Collections.Generic;
using System.Linq;
using Xunit;

namespace SlabPools.Tests.Derived;

public class DefragmentTests
{
    /// <summary>A store of small blobs that lets the cache move them (the references live in one dictionary).</summary>
    private sealed unsafe class BlobStore
    {
        private readonly Dictionary<int, nint> _where = new();
        private readonly Dictionary<nint, int> _who = new();

        public BlobStore(SlabAllocator allocator) =>
            Cache = allocator.CreateCache("blobs", 96, new SlabCacheOptions { Move = Moved });

        public SlabCache Cache { get; }

        public int Count => _where.Count;

        public void Add(int key)
        {
            nint p = Cache.Allocate();
            new Span<byte>((void*)p, 96).Fill((byte)key);
            *(int*)p = key;
            _where[key] = p;
            _who[p] = key;
        }

        public void Remove(int key)
        {
            nint p = _where[key];
            _where.Remove(key);
            _who.Remove(p);
            Cache.Free(p);
        }

        public bool Intact(int key)
        {
            var bytes = new ReadOnlySpan<byte>((void*)_where[key], 96);
            return *(int*)_where[key] == key && bytes[4..].IndexOfAnyExcept((byte)key) < 0;
        }

        private bool Moved(nint from, nint to)
        {
            if (!_who.Remove(from, out int key))
            {
                return false;
            }

            _who[to] = key;
            _where[key] = to;
            return true;
        }
    }

    [Fact]
    public void Shrink_with_moving_brings_the_slab_count_down_by_about_half_and_keeps_every_blob()
    {
        using var allocator = new SlabAllocator();
        var store = new BlobStore(allocator);
        const int blobs = 20_000;
        for (int i = 0; i < blobs; i++)
        {
            store.Add(i);
        }

        var random = new Random(7);
        var removed = Enumerable.Range(0, blobs).OrderBy(_ => random.Next()).Take(blobs / 2).ToHashSet();
        foreach (int key in removed)
        {
            store.Remove(key);
        }

        store.Cache.Shrink();
        long before = store.Cache.GetInfo().Slabs;
        store.Cache.Shrink(defragment: true);
        long after = store.Cache.GetInfo().Slabs;

        long needed = (blobs / 2 + store.Cache.ObjectsPerSlab - 1) / store.Cache.ObjectsPerSlab;
        Assert.True(after <= needed + 2, $"{after} slabs after moving, {needed} needed, {before} before");
        Assert.True(after < before * 0.6, $"{after} slabs after moving, {before} before");
        Assert.Equal(blobs / 2, store.Count);
        Assert.All(Enumerable.Range(0, blobs).Where(k => !removed.Contains(k)), k => Assert.True(store.Intact(k)));
        Assert.Equal(blobs / 2, store.Cache.GetInfo().ActiveObjects);
    }

    [Fact]
    public void A_refused_move_leaves_the_object_where_it_was()
    {
        using var allocator = new SlabAllocator();
        SlabCache cache = allocator.CreateCache("stubborn", 64, new SlabCacheOptions { Move = (_, _) => false });
        var objects = Enumerable.Range(0, 10 * cache.ObjectsPerSlab).Select(_ => cache.Allocate()).ToList();
        var kept = objects.Where((_, i) => i % 5 == 0).ToList();
        objects.Where((_, i) => i % 5 != 0).ToList().ForEach(cache.Free);
        long slabs = cache.GetInfo().Slabs;
        cache.Shrink(defragment: true);
        Assert.Equal(slabs, cache.GetInfo().Slabs);
        Assert.Equal(kept.Count, cache.GetInfo().ActiveObjects);
        kept.ForEach(cache.Free);
        Assert.Equal(0, cache.GetInfo().ActiveObjects);
    }

    [Fact]
    public void Defragmenting_without_a_move_callback_is_refused_clearly()
    {
        using var allocator = new SlabAllocator();
        SlabCache cache = allocator.CreateCache("plain", 64, new SlabCacheOptions { AllowMerge = false });
        InvalidOperationException e = Assert.Throws<InvalidOperationException>(() => cache.Shrink(defragment: true));
        Assert.Contains("Move", e.Message);
    }
}
