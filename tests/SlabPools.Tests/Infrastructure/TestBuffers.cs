using System;
using System.Buffers;
using System.Collections.Generic;
using System.Linq;
using SlabPools.Pools;

namespace SlabPools.Tests.Infrastructure;

/// <summary>The ways to get memory from an allocator that the reliability tests exercise.</summary>
internal enum Face
{
    /// <summary><see cref="SlabAllocator.ArrayPool"/> (managed arrays, no page allocator).</summary>
    Array,

    /// <summary><see cref="SlabAllocator.MemoryPool"/> (pinned pages).</summary>
    Memory,

    /// <summary><see cref="NativeBufferPool"/> as a memory pool (native pages).</summary>
    NativeMemory,

    /// <summary><see cref="NativeBufferPool.Allocate"/> and <see cref="NativeBufferPool.Free"/>, large blocks included.</summary>
    NativePointer,

    /// <summary><see cref="SlabAllocator.GetKmallocCache"/> used directly.</summary>
    Kmalloc,

    /// <summary>A plain native cache from <see cref="SlabAllocator.CreateCache(string, int, SlabCacheOptions?)"/>.</summary>
    NativeCache,

    /// <summary>A plain pinned cache from <see cref="SlabAllocator.CreateCache(string, int, SlabCacheOptions?)"/>.</summary>
    PinnedCache,

    /// <summary>An aligned cache from <see cref="SlabAllocator.GetAlignedCache"/>.</summary>
    AlignedCache,
}

/// <summary>
/// A buffer from one of the faces, stamped when rented and checked before it is returned: if two
/// renters ever got the same memory, one of them finds the other's stamp.
/// </summary>
internal abstract unsafe class TestBuffer
{
    private int _stamp;

    protected TestBuffer(Face face, int length)
    {
        Face = face;
        Length = length;
    }

    public Face Face { get; }

    public int Length { get; }

    /// <summary>Memory outside every slab cache (a large pointer allocation): not counted in GetInfo.</summary>
    public virtual bool Uncached => false;

    public abstract Span<byte> Span { get; }

    public void Stamp(int stamp)
    {
        _stamp = stamp;
        Span<byte> span = Span;
        for (int i = 0; i < span.Length - 1; i += 61)
        {
            span[i] = (byte)(stamp + i);
        }

        span[^1] = (byte)(stamp >> 8);
    }

    public bool Verify()
    {
        Span<byte> span = Span;
        for (int i = 0; i < span.Length - 1; i += 61)
        {
            if (span[i] != (byte)(_stamp + i))
            {
                return false;
            }
        }

        return span[^1] == (byte)(_stamp >> 8);
    }

    /// <summary>Gives the memory back to where it came from.</summary>
    public abstract void Return();

    private sealed class ArrayBuffer(ArrayPool<byte> pool, byte[] array, int length) : TestBuffer(Face.Array, length)
    {
        public override Span<byte> Span => array.AsSpan(0, Length);

        public override void Return() => pool.Return(array);
    }

    private sealed class OwnerBuffer(Face face, IMemoryOwner<byte> owner, int length) : TestBuffer(face, length)
    {
        public override Span<byte> Span => owner.Memory.Span[..Length];

        public override void Return() => owner.Dispose();
    }

    private sealed class PointerBuffer(Face face, nint address, int length, Action<nint> free, bool uncached) : TestBuffer(face, length)
    {
        public override bool Uncached => uncached;

        public override Span<byte> Span => new((void*)address, Length);

        public override void Return() => free(address);
    }

    public static TestBuffer FromArray(ArrayPool<byte> pool, byte[] array, int length) => new ArrayBuffer(pool, array, length);

    public static TestBuffer FromOwner(Face face, IMemoryOwner<byte> owner, int length) => new OwnerBuffer(face, owner, length);

    public static TestBuffer FromPointer(Face face, nint address, int length, Action<nint> free, bool uncached = false) => new PointerBuffer(face, address, length, free, uncached);
}

/// <summary>Rents buffers of any face from one allocator (the plain caches are made once, unmerged).</summary>
internal sealed class Faces
{
    /// <summary>Object size of <see cref="NativeCache"/>.</summary>
    public const int NativeCacheSize = 200;

    /// <summary>Object size of <see cref="PinnedCache"/>.</summary>
    public const int PinnedCacheSize = 300;

    /// <summary>Object size and alignment of <see cref="AlignedCache"/>.</summary>
    public const int AlignedSize = 512;
    public const int Alignment = 256;

    public static readonly Face[] All = Enum.GetValues<Face>();

    private readonly SlabAllocator _allocator;

    public Faces(SlabAllocator allocator)
    {
        _allocator = allocator;
        NativeCache = allocator.CreateCache("test-native", NativeCacheSize, new SlabCacheOptions { AllowMerge = false });
        PinnedCache = allocator.CreateCache("test-pinned", PinnedCacheSize, new SlabCacheOptions { Native = false, AllowMerge = false });
        AlignedCache = allocator.GetAlignedCache(AlignedSize, Alignment);
    }

    public SlabCache NativeCache { get; }

    public SlabCache PinnedCache { get; }

    public SlabCache AlignedCache { get; }

    /// <summary>
    /// Rents from <paramref name="face"/>: <paramref name="size"/> bytes (clamped to what the face
    /// serves; the plain caches have fixed sizes). The buffer is not stamped yet.
    /// </summary>
    public TestBuffer Rent(Face face, int size)
    {
        size = Math.Max(1, size);
        int classed = Math.Min(size, SizeClasses.MaxSize);
        switch (face)
        {
            case Face.Array:
                return TestBuffer.FromArray(_allocator.ArrayPool, _allocator.ArrayPool.Rent(classed), classed);
            case Face.Memory:
                return TestBuffer.FromOwner(face, _allocator.MemoryPool.Rent(classed), classed);
            case Face.NativeMemory:
                return TestBuffer.FromOwner(face, _allocator.NativeBufferPool.Rent(classed), classed);
            case Face.NativePointer:
            {
                NativeBufferPool pool = _allocator.NativeBufferPool;
                return TestBuffer.FromPointer(face, pool.Allocate(size), size, pool.Free, uncached: size > SizeClasses.MaxSize);
            }

            case Face.Kmalloc:
            {
                SlabCache cache = _allocator.GetKmallocCache(classed);
                return TestBuffer.FromPointer(face, cache.Allocate(), classed, cache.Free);
            }

            case Face.NativeCache:
                return TestBuffer.FromPointer(face, NativeCache.Allocate(), NativeCacheSize, NativeCache.Free);
            case Face.PinnedCache:
                return TestBuffer.FromPointer(face, PinnedCache.Allocate(), PinnedCacheSize, PinnedCache.Free);
            default:
            {
                nint p = AlignedCache.Allocate();
                if (p % Alignment != 0)
                {
                    throw new InvalidOperationException($"0x{p:x} is not aligned to {Alignment}");
                }

                return TestBuffer.FromPointer(face, p, AlignedSize, AlignedCache.Free);
            }
        }
    }

    /// <summary>A size drawn log-uniformly from 16 bytes to 128 KiB, and now and then a large one (1.5 MiB, beyond the size classes).</summary>
    public static int RandomSize(Random random) =>
        random.Next(200) == 0 ? (3 << 19) : (int)Math.Pow(2, 4 + (random.NextDouble() * 13));

    /// <summary>Objects handed out by every cache of the allocator.</summary>
    public static long Active(SlabAllocator allocator) => allocator.GetInfo().Sum(i => i.ActiveObjects);

    /// <summary>Bytes held by every cache of the allocator.</summary>
    public static long Reserved(SlabAllocator allocator) => allocator.GetInfo().Sum(i => i.BytesReserved);

    /// <summary>The caches that still hold objects, for failure messages.</summary>
    public static string Busy(SlabAllocator allocator) =>
        string.Join(", ", allocator.GetInfo().Where(i => i.ActiveObjects != 0).Select(i => $"{i.Name}: {i.ActiveObjects} active"));

    /// <summary>Buffers returned in one go, checking each stamp first; returns the number of bad stamps.</summary>
    public static int ReturnAll(IEnumerable<TestBuffer> buffers)
    {
        int bad = 0;
        foreach (TestBuffer b in buffers)
        {
            if (!b.Verify())
            {
                bad++;
            }

            b.Return();
        }

        return bad;
    }
}
