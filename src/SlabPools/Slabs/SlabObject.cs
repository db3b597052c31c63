using System.Runtime.CompilerServices;

namespace SlabPools.Slabs;

/// <summary>An object named by its slab and its index in that slab (what tier 0 of the pointer API caches).</summary>
internal readonly struct SlabObject
{
    internal readonly Slab Slab;
    internal readonly int Index;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal SlabObject(Slab slab, int index)
    {
        Slab = slab;
        Index = index;
    }

    internal nint Address
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => Slab.AddressOf(Index);
    }
}

/// <summary>How a tier-0 item of type <typeparamref name="T"/> maps onto a slot of a slab.</summary>
internal interface ISlotCodec<T>
{
    static abstract T Encode(Slab slab, int index);

    static abstract Slab Decode(in T item, out int index);
}

/// <summary>The codec of <see cref="SlabObject"/> items.</summary>
internal readonly struct SlabObjectCodec : ISlotCodec<SlabObject>
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static SlabObject Encode(Slab slab, int index) => new(slab, index);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Slab Decode(in SlabObject item, out int index)
    {
        index = item.Index;
        return item.Slab;
    }
}
