using System;
using System.Buffers;
using System.Collections.Generic;
using System.Threading;
using Microsoft.AspNetCore.Connections;

namespace SlabPools.Extensions;

/// <summary>
/// Kestrel's <see cref="IMemoryPoolFactory{T}"/> over SlabPools: every pool it creates is a light
/// view of the one <see cref="SlabAllocator.MemoryPool"/> of its allocator, so all of them share the
/// same slab caches and per-thread and per-CPU tiers (Kestrel's socket transport creates one pool
/// per I/O queue).
/// </summary>
/// <remarks>
/// <para>A created pool gives a block of <see cref="BlockSize"/> bytes
/// (<see cref="SlabPoolsOptions.TransportBlockSize"/>, 16 KiB by default; Kestrel's own pool has
/// 4096) for <c>Rent()</c>, <c>Rent(-1)</c>, <c>Rent(0)</c> and every request up to that size
/// (Kestrel's pipes ask for 4096 bytes), and the size class of larger requests up to 1 MiB.
/// Disposing it makes its <c>Rent</c> throw <see cref="ObjectDisposedException"/>; buffers rented
/// from it stay valid and can still be returned, and the shared memory is not touched (it belongs to
/// the allocator).</para>
/// <para>Kestrel's own pool gives idle memory back from Kestrel's heartbeat; with this factory the
/// allocator's flusher (<see cref="SlabPoolsOptions.FlushInterval"/>) does that instead.</para>
/// </remarks>
public sealed class SlabMemoryPoolFactory : IMemoryPoolFactory<byte>
{
    // Protects _owners (names given by MemoryPoolOptions.Owner, in order of first use).
    private readonly Lock _ownersLock = new();
    private string[] _owners = [];
    private volatile bool _created;

    /// <summary>Creates a factory over <paramref name="allocator"/>'s memory pool.</summary>
    /// <param name="allocator">The allocator whose <see cref="SlabAllocator.MemoryPool"/> the created pools share.</param>
    /// <exception cref="ArgumentNullException"><paramref name="allocator"/> is null.</exception>
    public SlabMemoryPoolFactory(SlabAllocator allocator)
    {
        ArgumentNullException.ThrowIfNull(allocator);
        Allocator = allocator;
        BlockSize = allocator.Options.TransportBlockSize;
    }

    /// <summary>The allocator whose memory pool the created pools share.</summary>
    public SlabAllocator Allocator { get; }

    /// <summary>The transport block: what a created pool gives for <c>Rent()</c> and for any request up to this size (the allocator's <see cref="SlabPoolsOptions.TransportBlockSize"/> when this factory was made).</summary>
    public int BlockSize { get; }

    /// <summary>Creates a pool over the shared <see cref="SlabAllocator.MemoryPool"/>. Cheap: it holds no memory of its own.</summary>
    /// <param name="options">Options; <see cref="MemoryPoolOptions.Owner"/> names the user (Kestrel passes <c>kestrel</c>)
    /// and tags the <c>Microsoft.AspNetCore.MemoryPool</c> instruments.</param>
    /// <returns>A pool; disposing it does not release shared memory.</returns>
    public MemoryPool<byte> Create(MemoryPoolOptions? options = null)
    {
        string? owner = options?.Owner;
        if (!string.IsNullOrEmpty(owner))
        {
            AddOwner(owner);
        }

        var pool = new SharedSlabMemoryPool(Allocator.MemoryPool, BlockSize);
        _created = true;
        return pool;
    }

    /// <summary>True once <see cref="Create"/> has been called.</summary>
    internal bool HasCreatedPools => _created;

    /// <summary>The distinct non-empty owners passed to <see cref="Create"/>, in order of first use.</summary>
    internal IReadOnlyList<string> Owners => Volatile.Read(ref _owners);

    private void AddOwner(string owner)
    {
        if (Array.IndexOf(Volatile.Read(ref _owners), owner) >= 0)
        {
            return;
        }

        lock (_ownersLock)
        {
            if (Array.IndexOf(_owners, owner) < 0)
            {
                Volatile.Write(ref _owners, [.. _owners, owner]);
            }
        }
    }
}
