using System;
using System.Buffers;
using System.Runtime.CompilerServices;
using System.Threading;
using SlabPools.Slabs;

namespace SlabPools.Pools;

/// <summary>
/// An <see cref="ArrayPool{T}"/> of bytes over the kmalloc size classes: each array is a
/// single-object slab of the class's <c>array-&lt;size&gt;</c> cache, with per-thread magazines in
/// front, per-node stacks of free arrays behind, per-cache statistics and idle reclaim.
/// </summary>
/// <remarks>
/// <para>Compared with <see cref="ArrayPool{T}.Shared"/>:</para>
/// <list type="bullet">
/// <item>arrays have the class size (eight classes per power of two), not the next power of two:
/// <c>Rent(65..96)</c> has length 96, <c>Rent(129..144)</c> length 144, <c>Rent(177..192)</c> length 192;</item>
/// <item>a burst never turns into garbage: every returned array is kept (on its node's stack) until
/// the flusher or <see cref="SlabAllocator.Shrink"/> lets it go, not only one per thread and 32 per core;</item>
/// <item>a double return is caught and reported through <see cref="SlabAllocator.ErrorDetected"/>
/// instead of handing one array to two renters; a write into a returned array is reported when the
/// array is next rented (if it hit the array's free mark, bytes 8..15; Poison debugging catches all).</item>
/// </list>
/// <para>Requests above <see cref="SizeClasses.MaxSize"/> get a new array, not pooled, and such arrays
/// are dropped when returned, as <see cref="ArrayPool{T}.Shared"/> does.</para>
/// </remarks>
public sealed class SlabArrayPool : ArrayPool<byte>
{
    private readonly SlabAllocator _allocator;
    private readonly ArraySlabCache?[] _caches = new ArraySlabCache?[SizeClasses.Count];
    private readonly Lock _createLock = new();

    internal SlabArrayPool(SlabAllocator allocator) => _allocator = allocator;

    /// <summary>The largest length served from the pool.</summary>
    public int MaxArrayLength => SizeClasses.MaxSize;

    /// <summary>Rents an array of at least <paramref name="minimumLength"/> bytes: the length of its size class.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="minimumLength"/> is negative.</exception>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public override byte[] Rent(int minimumLength)
    {
        int index = SizeClasses.IndexOf(minimumLength);
        if ((uint)index < (uint)_caches.Length && minimumLength > 0)
        {
            ArraySlabCache? cache = _caches[index];
            if (cache is not null)
            {
                return cache.Rent();
            }
        }

        return RentSlow(minimumLength);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private byte[] RentSlow(int minimumLength)
    {
        if (minimumLength <= 0)
        {
            return minimumLength == 0 ? [] : ThrowNegative(minimumLength);
        }

        int index = SizeClasses.IndexOf(minimumLength);
        if (index < 0)
        {
            return GC.AllocateUninitializedArray<byte>(minimumLength); // above the largest class: not pooled
        }

        _allocator.ThrowIfDisposed();
        return CacheFor(index).Rent();
    }

    private static byte[] ThrowNegative(int minimumLength) =>
        throw new ArgumentOutOfRangeException(nameof(minimumLength), minimumLength, "The length must not be negative.");

    /// <summary>Returns an array rented from this pool.</summary>
    /// <param name="array">The array.</param>
    /// <param name="clearArray">Clear the array before it is pooled.</param>
    /// <exception cref="ArgumentNullException"><paramref name="array"/> is null.</exception>
    /// <exception cref="ArgumentException">The array's length is no size class (it cannot have come from this pool).</exception>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public override void Return(byte[] array, bool clearArray = false)
    {
        if (array is not null)
        {
            int length = array.Length;
            int index = SizeClasses.IndexOf(length);
            if ((uint)index < (uint)_caches.Length)
            {
                ArraySlabCache? cache = _caches[index];
                if (cache is not null && cache.Size == length)
                {
                    cache.Return(array, clearArray);
                    return;
                }
            }
        }

        ReturnSlow(array!, clearArray);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void ReturnSlow(byte[] array, bool clearArray)
    {
        ArgumentNullException.ThrowIfNull(array);
        int length = array.Length;
        if (length == 0 || length > SizeClasses.MaxSize)
        {
            return; // the empty array, or one too large to pool: dropped, as ArrayPool<byte>.Shared does
        }

        int index = SizeClasses.IndexOfExact(length);
        if (index < 0)
        {
            throw new ArgumentException($"The array's length ({length}) is not a size class of this pool, so it did not come from it.", nameof(array));
        }

        CacheFor(index).Return(array, clearArray);
    }

    private ArraySlabCache CacheFor(int index)
    {
        ArraySlabCache? cache = _caches[index];
        if (cache is not null)
        {
            return cache;
        }

        lock (_createLock)
        {
            cache = _caches[index];
            if (cache is null)
            {
                int size = SizeClasses.SizeAt(index);
                cache = new ArraySlabCache(_allocator, "array-" + size.ToString(System.Globalization.CultureInfo.InvariantCulture), size);
                _allocator.Register(cache);
                Volatile.Write(ref _caches[index], cache);
            }

            return cache;
        }
    }
}
