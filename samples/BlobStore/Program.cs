using System;
using System.Collections.Generic;
using System.Linq;
using SlabPools;

// A store of many small blobs in a slab cache with a move callback. Half the blobs are deleted at
// random, which leaves every slab half empty; Shrink(defragment: true) moves the survivors together
// and releases the slabs that empty out.
using var allocator = new SlabAllocator();
var store = new BlobStore(allocator, blobSize: 80);
const int count = 100_000;
for (int i = 0; i < count; i++)
{
    store.Put(i);
}

Print("after filling", store);
var random = new Random(2006);
foreach (int key in Enumerable.Range(0, count).OrderBy(_ => random.Next()).Take(count / 2))
{
    store.Delete(key);
}

store.Cache.Shrink();
Print("after deleting half", store);
store.Cache.Shrink(defragment: true);
Print("after shrink with moving", store);
int bad = store.Keys.Count(k => !store.Check(k));
Console.WriteLine(bad == 0 ? $"all {store.Keys.Count} remaining blobs intact" : $"{bad} blobs damaged");
return bad == 0 ? 0 : 1;

static void Print(string when, BlobStore store)
{
    SlabCacheInfo info = store.Cache.GetInfo();
    Console.WriteLine($"{when,-26} {info.ActiveObjects,7} blobs in {info.Slabs,5} slabs ({info.BytesReserved / 1024,6} KiB reserved)");
}

/// <summary>Blobs keyed by number; the store's dictionary is the only reference to each blob.</summary>
internal sealed unsafe class BlobStore
{
    private readonly Dictionary<int, nint> _blobs = new();
    private readonly Dictionary<nint, int> _keys = new();
    private readonly int _size;

    public BlobStore(SlabAllocator allocator, int blobSize)
    {
        _size = blobSize;
        Cache = allocator.CreateCache("blobs", blobSize, new SlabCacheOptions { Move = Relocate });
    }

    public SlabCache Cache { get; }

    public ICollection<int> Keys => _blobs.Keys;

    public void Put(int key)
    {
        nint p = Cache.Allocate();
        new Span<byte>((void*)p, _size).Fill((byte)key);
        *(int*)p = key;
        _blobs[key] = p;
        _keys[p] = key;
    }

    public void Delete(int key)
    {
        _blobs.Remove(key, out nint p);
        _keys.Remove(p);
        Cache.Free(p);
    }

    public bool Check(int key)
    {
        nint p = _blobs[key];
        return *(int*)p == key && new ReadOnlySpan<byte>((void*)(p + 4), _size - 4).IndexOfAnyExcept((byte)key) < 0;
    }

    // The cache has copied the blob to 'to': point our references there and let it free 'from'.
    private bool Relocate(nint from, nint to)
    {
        if (!_keys.Remove(from, out int key))
        {
            return false;
        }

        _keys[to] = key;
        _blobs[key] = to;
        return true;
    }
}
