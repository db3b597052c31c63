using System.Runtime.InteropServices;

namespace SlabPools.Slabs;

/// <summary>A processor's active slab. Padded so that two processors' slots never share a cache line.</summary>
[StructLayout(LayoutKind.Sequential)]
internal sealed class CpuSlot
{
#pragma warning disable CS0169, IDE0051 // padding
    private readonly long _pad0, _pad1, _pad2, _pad3, _pad4, _pad5, _pad6;
#pragma warning restore CS0169, IDE0051

    /// <summary>The active slab (frozen), or null. Changed only by compare-and-swap; whoever swaps a slab out unfreezes it.</summary>
    internal Slab? Active;

#pragma warning disable CS0169, IDE0051 // padding
    private readonly long _pad7, _pad8, _pad9, _pad10, _pad11, _pad12, _pad13;
#pragma warning restore CS0169, IDE0051
}

/// <summary>One memory node's list of partial slabs (and empty ones, until they are released).</summary>
internal sealed class NodePartialList
{
    /// <summary>Protects the list links of every slab on this list, <see cref="Slab.OnPartial"/> and <see cref="Count"/>.</summary>
    internal readonly System.Threading.Lock Lock = new();

    internal Slab? Head;
    internal int Count;

    /// <summary>Adds at the head (a slab that just stopped being full is the fullest candidate). Caller holds <see cref="Lock"/>.</summary>
    internal void AddUnsynchronized(Slab slab)
    {
        if (slab.OnPartial)
        {
            return;
        }

        slab.Prev = null;
        slab.Next = Head;
        if (Head is not null)
        {
            Head.Prev = slab;
        }

        Head = slab;
        slab.OnPartial = true;
        Count++;
    }

    /// <summary>Caller holds <see cref="Lock"/>.</summary>
    internal void RemoveUnsynchronized(Slab slab)
    {
        if (!slab.OnPartial)
        {
            return;
        }

        if (slab.Prev is not null)
        {
            slab.Prev.Next = slab.Next;
        }
        else
        {
            Head = slab.Next;
        }

        if (slab.Next is not null)
        {
            slab.Next.Prev = slab.Prev;
        }

        slab.Prev = slab.Next = null;
        slab.OnPartial = false;
        Count--;
    }
}
