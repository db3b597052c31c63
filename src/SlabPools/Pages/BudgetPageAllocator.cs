using System;
using System.Threading;

namespace SlabPools.Pages;

/// <summary>
/// Limits the bytes that may be outstanding from an inner allocator. A request that would pass the
/// budget fails cleanly with <see cref="OutOfMemoryException"/> and changes nothing.
/// </summary>
public sealed class BudgetPageAllocator : DerivedPageAllocator
{
    private long _charged;

    /// <summary>Creates a budget of <paramref name="maxBytes"/> over <paramref name="inner"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="maxBytes"/> is not positive.</exception>
    public BudgetPageAllocator(PageAllocator inner, long maxBytes)
        : base(inner)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxBytes);
        MaxBytes = maxBytes;
    }

    /// <summary>The budget in bytes.</summary>
    public long MaxBytes { get; }

    /// <inheritdoc/>
    public override string Name => $"budget({MaxBytes})/{Inner.Name}";

    /// <inheritdoc/>
    protected override PageBlock AllocateCore(nuint bytes, int node)
    {
        // Charge before allocating so that two racing requests cannot both pass the budget; undo
        // the charge if the request fails either way.
        long charge = (long)bytes;
        if (Interlocked.Add(ref _charged, charge) > MaxBytes)
        {
            Interlocked.Add(ref _charged, -charge);
            return ThrowOutOfMemory(Name, bytes, $"the budget of {MaxBytes} bytes would be exceeded");
        }

        PageBlock block;
        try
        {
            block = Inner.Allocate(bytes, node);
        }
        catch
        {
            Interlocked.Add(ref _charged, -charge);
            throw;
        }

        // The inner allocator may round up (whole pages): charge what it really gave.
        Interlocked.Add(ref _charged, (long)block.Length - charge);
        return block;
    }

    /// <inheritdoc/>
    protected override void FreeCore(in PageBlock block)
    {
        Inner.Free(block);
        Interlocked.Add(ref _charged, -(long)block.Length);
    }
}
