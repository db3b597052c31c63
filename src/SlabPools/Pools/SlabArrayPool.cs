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

    // Per size class, the id of the class cache's per-thread magazines when rent and return may be
    // done here inline (ArraySlabCache.InlineId), else -1: not created yet, debugging or
    // clear-on-return, all of which take the cache's own path. Kept apart from _caches so that the
    // magazine tier's dependent loads are this array, the thread's table and the magazine. The hot
    // tier in front does not read it: a plain pool (_hotId >= 0) puts any free array of a class's
    // exact length in the thread's hot slot, even before the class's cache exists (an array it did
    // not make: the cache is made when the hot slot displaces it, or a rent of the class finds it).
    private readonly int[] _inlineIds = NewInlineIds();
    private readonly Lock _createLock = new();

    // One free array per thread and class in front of the magazines (null, and _hotId -1, when
    // debugging or clear-on-return send every operation through the caches).
    private readonly HotTier<byte[]>? _hot;
    private readonly int _hotId = -1;

    internal SlabArrayPool(SlabAllocator allocator)
    {
        _allocator = allocator;
        if (allocator.Options.Debug == SlabDebugFlags.None && !allocator.Options.ClearOnReturn)
        {
            _hot = new HotTier<byte[]>();
            _hotId = _hot.Id;
        }
    }

    private static int[] NewInlineIds()
    {
        int[] ids = new int[SizeClasses.Count];
        Array.Fill(ids, -1);
        return ids;
    }

    /// <summary>The largest length served from the pool.</summary>
    public int MaxArrayLength => SizeClasses.MaxSize;

    /// <summary>Rents an array of at least <paramref name="minimumLength"/> bytes: the length of its size class.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="minimumLength"/> is negative.</exception>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public override byte[] Rent(int minimumLength)
    {
        // Only the hot tier is inlined into callers; the magazines behind it are a call away
        // (RentFromMagazine, and PushToMagazine on return). Inlined, their code kept more values
        // alive across the thread-static read and the return's write barrier, and the spills cost a
        // rent+return pair about a fifth of its time (perf/interleaved.sh).
        // The thread's primary hot state is read on every path, before the branch: then a caller's
        // Return inlined after this Rent reuses the thread-static base instead of reading it again
        // (a call on Linux); read inside the branch, it cost the pair about a fifth more (perf/ab.sh).
        HotState<byte[]>? hot = HotTier<byte[]>.Primary;
        if ((uint)(minimumLength - 1) < (uint)SizeClasses.MaxSize)
        {
            // 1..MaxSize: always a class (0 and negative lengths, and larger ones, go the slow way).
            int index = SizeClasses.IndexOfInRange(minimumLength);
            if (HotTier<byte[]>.TryTake(hot, _hotId, index, out byte[] array))
            {
                return Handout(array, index);
            }

            return RentFromMagazine(hot, index);
        }

        return RentSlow(minimumLength);
    }

    // A free array bears the mark; a damaged one was written after it was returned. The mark is
    // wiped, so that a return of the array finds it rented. (The mark's address is taken twice: a
    // reference held across the report's call would be kept in a stack slot on the fast path too.)
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private byte[] Handout(byte[] array, int index)
    {
        if (ArraySlabCache.MarkOf(array) != ArraySlabCache.s_mark)
        {
            ReportWrittenAfterReturn(index, array);
        }

        ArraySlabCache.MarkOf(array) = 0;
        return array;
    }

    // The class's cache may not exist yet when the array was one it had not made, put in the hot
    // slot by a return (see PushToMagazine).
    [MethodImpl(MethodImplOptions.NoInlining)]
    private void ReportWrittenAfterReturn(int index, byte[] array) => CacheFor(index).ReportWrittenAfterReturn(array, null);

    // The primary hot state had nothing (it may be another pool's, then this pool's state is in the
    // thread's table): the calling thread's magazine of the class, else the slow path.
    [MethodImpl(MethodImplOptions.NoInlining)]
    private byte[] RentFromMagazine(HotState<byte[]>? primary, int index)
    {
        MagazineBase?[]? table = HotTier<byte[]>.TableOf(primary);
        if (HotTier<byte[]>.TryTake(HotTier<byte[]>.OffPrimary(table, primary, _hotId), _hotId, index, out byte[] array))
        {
            return Handout(array, index);
        }

        if (ThreadCache<byte[]>.TryPop(table, _inlineIds[index], out array))
        {
            return Handout(array, index);
        }

        return RentSlow(SizeClasses.SizeAt(index));
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
        _hot?.OnSlowPath();
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

            // _hotId >= 0: the pool is plain (no debugging, no clear-on-return); the length must be
            // a class's own (1..MaxSize, and the size of its class). The class's magazines are
            // looked up only below the hot slot.
            int index;
            if ((uint)(length - 1) < (uint)SizeClasses.MaxSize && _hotId >= 0
                && SizeClasses.SizeAtUnchecked(index = SizeClasses.IndexOfInRange(length)) == length)
            {
                // An array bearing the mark is in the pool already: the slow path reports it.
                if (ArraySlabCache.MarkOf(array) != ArraySlabCache.s_mark)
                {
                    if (clearArray)
                    {
                        Array.Clear(array);
                    }

                    ArraySlabCache.MarkOf(array) = ArraySlabCache.s_mark;
                    HotState<byte[]>? hot = HotTier<byte[]>.Primary;
                    if (HotTier<byte[]>.TryPut(hot, _hotId, index, array, out byte[]? displaced))
                    {
                        if (displaced is not null)
                        {
                            PushToMagazine(hot!.ThreadTable, index, displaced); // the slot's previous array goes down
                        }

                        return;
                    }

                    ReturnOffPrimary(hot, index, array);
                    return;
                }
            }
        }

        ReturnSlow(array!, clearArray);
    }

    // The primary hot state is another pool's, or there is none yet, or a flush is in progress: a
    // returned array, free and marked, goes to this pool's hot state in the thread's table, else
    // down to the magazine.
    [MethodImpl(MethodImplOptions.NoInlining)]
    private void ReturnOffPrimary(HotState<byte[]>? primary, int index, byte[] array)
    {
        MagazineBase?[]? table = HotTier<byte[]>.TableOf(primary);
        if (HotTier<byte[]>.TryPut(HotTier<byte[]>.OffPrimary(table, primary, _hotId), _hotId, index, array, out byte[]? displaced))
        {
            if (displaced is null)
            {
                return;
            }

            array = displaced;
        }

        PushToMagazine(table, index, array);
    }

    // The hot slot was taken (or the thread has none yet): a returned array, free and marked, goes
    // to the calling thread's magazine of the class. The class's cache may not exist yet (its id is
    // -1 then): the array has the length of a class but was not rented here; the slow push makes
    // the cache, which adopts it.
    [MethodImpl(MethodImplOptions.NoInlining)]
    private void PushToMagazine(MagazineBase?[]? table, int index, byte[] array)
    {
        if (!ThreadCache<byte[]>.TryPush(table, _inlineIds[index], array))
        {
            PushSlow(index, array);
        }
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void PushSlow(int index, byte[] array)
    {
        _hot?.OnSlowPath();
        CacheFor(index).PushSlow(array);
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
                if (_hot is not null && cache.InlineId >= 0)
                {
                    cache.Hot = _hot.Attach(index, cache);
                }

                _allocator.Register(cache);
                Volatile.Write(ref _caches[index], cache);
                Volatile.Write(ref _inlineIds[index], cache.InlineId);
            }

            return cache;
        }
    }
}
