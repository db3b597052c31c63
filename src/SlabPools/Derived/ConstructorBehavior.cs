using System;
using SlabPools.Slabs;

namespace SlabPools.Derived;

/// <summary>The constructor/destructor allocator: objects are constructed with their slab and destroyed with it.</summary>
internal sealed class ConstructorBehavior(Action<nint>? constructor, Action<nint>? destructor) : DerivedBehavior
{
    internal override void OnSlabCreated(SlabCache cache, Slab slab)
    {
        if (constructor is null)
        {
            return;
        }

        for (int i = 0; i < slab.Capacity; i++)
        {
            constructor(slab.AddressOf(i));
        }
    }

    internal override void OnSlabReleasing(SlabCache cache, Slab slab)
    {
        if (destructor is null)
        {
            return;
        }

        for (int i = 0; i < slab.Capacity; i++)
        {
            destructor(slab.AddressOf(i));
        }
    }
}
