using System;
using System.Numerics;
using System.Threading;

namespace SlabPools.Benchmarks;

/// <summary>
/// A bounded ring for exactly one producer thread and one consumer thread. Each side owns one
/// index and keeps a private copy of the other's, re-reading it only when the ring looks full
/// (producer) or empty (consumer), so the two cores share a cache line only when they must.
/// </summary>
internal sealed class SpscRing<T>
    where T : class
{
    private readonly T?[] _items;
    private readonly int _mask;
    private RingIndexes _indexes;

    internal SpscRing(int capacity)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 2);
        if (!BitOperations.IsPow2(capacity))
        {
            throw new ArgumentException("The capacity must be a power of two.", nameof(capacity));
        }

        _items = new T?[capacity];
        _mask = capacity - 1;
    }

    /// <summary>True when the consumer has taken (<see cref="Advance"/>) everything the producer published.</summary>
    internal bool IsEmpty => Volatile.Read(ref _indexes.Head) == Volatile.Read(ref _indexes.Tail);

    /// <summary>Producer only: adds an item, or returns false when the ring is full.</summary>
    internal bool TryEnqueue(T item)
    {
        long tail = _indexes.Tail;
        if (tail - _indexes.CachedHead == _items.Length)
        {
            _indexes.CachedHead = Volatile.Read(ref _indexes.Head);
            if (tail - _indexes.CachedHead == _items.Length)
            {
                return false;
            }
        }

        _items[(int)tail & _mask] = item;
        Volatile.Write(ref _indexes.Tail, tail + 1);
        return true;
    }

    /// <summary>Consumer only: reads the oldest item without taking it, or returns false when the ring is empty.</summary>
    internal bool TryPeek(out T item)
    {
        long head = _indexes.Head;
        if (head == _indexes.CachedTail)
        {
            _indexes.CachedTail = Volatile.Read(ref _indexes.Tail);
            if (head == _indexes.CachedTail)
            {
                item = null!;
                return false;
            }
        }

        item = _items[(int)head & _mask]!;
        return true;
    }

    /// <summary>
    /// Consumer only: takes the item <see cref="TryPeek"/> returned. Until then the producer sees
    /// it in the ring, so <see cref="IsEmpty"/> means every item has been dealt with.
    /// </summary>
    internal void Advance()
    {
        long head = _indexes.Head;
        _items[(int)head & _mask] = null;
        Volatile.Write(ref _indexes.Head, head + 1);
    }
}
