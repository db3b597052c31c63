using System;
using System.Buffers;
using System.Threading;
using System.Threading.Tasks;
using KestrelDemo.Api;
using KestrelDemo.Monitoring;
using SlabPools;

namespace KestrelDemo;

/// <summary>
/// Rents many buffers at once from the three pools <c>AddSlabPools</c> registers, holds them for a
/// moment, and returns them all: the burst a service sees when a wave of requests arrives. The
/// caches keep the freed slabs until the flusher gives them back, which the live page shows.
/// </summary>
public sealed class BurstRunner : IDisposable
{
    /// <summary>The most buffers one burst may rent (about 56 MiB).</summary>
    public const int MaxBuffers = 10_000;

    /// <summary>The longest a burst may hold its buffers.</summary>
    public const int MaxHoldMilliseconds = 5_000;

    private readonly ArrayPool<byte> _arrays;
    private readonly MemoryPool<byte> _memory;
    private readonly NativeBufferPool _native;
    private readonly SlabAllocator _allocator;

    // One burst at a time, so that concurrent requests cannot multiply the memory a burst may take.
    private readonly SemaphoreSlim _gate = new(1, 1);

    /// <summary>Creates the runner over the registered pools.</summary>
    /// <param name="arrays">The registered <see cref="ArrayPool{T}"/> (caches <c>array-*</c>).</param>
    /// <param name="memory">The registered <see cref="MemoryPool{T}"/> (caches <c>pinned-*</c>).</param>
    /// <param name="native">The registered <see cref="NativeBufferPool"/> (caches <c>native-*</c>).</param>
    /// <param name="allocator">The allocator behind them, for the figures.</param>
    public BurstRunner(ArrayPool<byte> arrays, MemoryPool<byte> memory, NativeBufferPool native, SlabAllocator allocator)
    {
        _arrays = arrays;
        _memory = memory;
        _native = native;
        _allocator = allocator;
    }

    /// <summary>Rents <paramref name="count"/> buffers of mixed sizes, writes each, holds them, returns them.</summary>
    /// <param name="count">Buffers to rent, 1 to <see cref="MaxBuffers"/>.</param>
    /// <param name="holdMilliseconds">How long to hold them, 0 to <see cref="MaxHoldMilliseconds"/>.</param>
    /// <param name="cancellationToken">Ends the hold early; the buffers are returned all the same.</param>
    /// <returns>What the burst did to the caches.</returns>
    public async Task<BurstResult> RunAsync(int count, int holdMilliseconds, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(count, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(count, MaxBuffers);
        ArgumentOutOfRangeException.ThrowIfNegative(holdMilliseconds);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(holdMilliseconds, MaxHoldMilliseconds);

        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            long before = SlabTotals.Of(_allocator).ReservedBytes;
            var arrays = new byte[(count + 2) / 3][];
            var owners = new IMemoryOwner<byte>[count - arrays.Length];
            int arrayCount = 0, ownerCount = 0;
            long bytes = 0;
            try
            {
                // A mix of sizes and pools: arrays of 1 and 16 KiB, pinned 4 KiB blocks from the
                // memory pool, native buffers of 512 bytes and 8 KiB.
                for (int i = 0; i < count; i++)
                {
                    Span<byte> span;
                    switch (i % 6)
                    {
                        case 0:
                        case 3:
                            byte[] array = _arrays.Rent(i % 6 == 0 ? 1024 : 16 * 1024);
                            arrays[arrayCount++] = array;
                            span = array;
                            break;
                        case 1:
                        case 4:
                            IMemoryOwner<byte> block = _memory.Rent(4096);
                            owners[ownerCount++] = block;
                            span = block.Memory.Span;
                            break;
                        default:
                            IMemoryOwner<byte> native = _native.Rent(i % 6 == 2 ? 512 : 8 * 1024);
                            owners[ownerCount++] = native;
                            span = native.Memory.Span;
                            break;
                    }

                    span.Fill((byte)i);
                    bytes += span.Length;
                }

                long whileHeld = SlabTotals.Of(_allocator).ReservedBytes;
                if (holdMilliseconds > 0)
                {
                    await Task.Delay(holdMilliseconds, cancellationToken).ConfigureAwait(false);
                }

                ReturnAll(arrays, arrayCount, owners, ownerCount);
                arrayCount = ownerCount = 0;
                return new BurstResult(count, bytes, holdMilliseconds, before, whileHeld, SlabTotals.Of(_allocator).ReservedBytes);
            }
            finally
            {
                ReturnAll(arrays, arrayCount, owners, ownerCount);
            }
        }
        finally
        {
            _gate.Release();
        }
    }

    private void ReturnAll(byte[][] arrays, int arrayCount, IMemoryOwner<byte>[] owners, int ownerCount)
    {
        for (int i = 0; i < arrayCount; i++)
        {
            _arrays.Return(arrays[i]);
        }

        for (int i = 0; i < ownerCount; i++)
        {
            owners[i].Dispose();
        }
    }

    /// <inheritdoc />
    public void Dispose() => _gate.Dispose();
}
