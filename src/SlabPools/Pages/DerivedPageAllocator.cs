using System;

namespace SlabPools.Pages;

/// <summary>
/// A page allocator made from another by changing some of its methods (the seed's "derive new
/// allocators from old ones"). By default every method forwards to <see cref="Inner"/>.
/// </summary>
public abstract class DerivedPageAllocator : PageAllocator
{
    /// <summary>Wraps <paramref name="inner"/>.</summary>
    protected DerivedPageAllocator(PageAllocator inner)
    {
        ArgumentNullException.ThrowIfNull(inner);
        Inner = inner;
    }

    /// <summary>The allocator this one is derived from.</summary>
    public PageAllocator Inner { get; }

    /// <inheritdoc/>
    public override bool IsNative => Inner.IsNative;

    /// <inheritdoc/>
    public override int BlockAlignment => Inner.BlockAlignment;

    /// <inheritdoc/>
    protected override PageBlock AllocateCore(nuint bytes, int node) => Inner.Allocate(bytes, node);

    /// <inheritdoc/>
    protected override void FreeCore(in PageBlock block) => Inner.Free(block);
}
