using System.Collections.Generic;
using System.Threading;
using SlabPools.Slabs;

namespace SlabPools;

// The RCU derived allocator's object side: with DeferReuseByRcu a freed object waits for a grace
// period before it goes back on its slab's free list.
public sealed partial class SlabCache
{
    // Protects _pendingRcu: objects freed and waiting for their grace period (for double-free checks).
    private readonly Lock _pendingLock = new();
    private readonly HashSet<nint> _pendingRcu = new();

    private void MarkPendingRcu(nint address)
    {
        lock (_pendingLock)
        {
            _pendingRcu.Add(address);
        }
    }

    private bool IsPendingRcu(nint address)
    {
        if (!DeferReuseByRcu)
        {
            return false;
        }

        lock (_pendingLock)
        {
            return _pendingRcu.Contains(address);
        }
    }

    // A method of its own so that the closure is only allocated on this path (a lambda capturing
    // the caller's parameters would be allocated on every free of the caller).
    private void DeferReuse(Slab slab, int index, nint address)
    {
        MarkPendingRcu(address);
        _owner.Rcu.Defer(() => ReuseAfterGracePeriod(slab, index));
    }

    private void ReuseAfterGracePeriod(Slab slab, int index)
    {
        lock (_pendingLock)
        {
            _pendingRcu.Remove(slab.AddressOf(index));
        }

        lock (_derivedLock)
        {
            FreeChain(slab, index, index, 1);
        }
    }

    /// <summary>Objects freed and still waiting for their grace period.</summary>
    internal int PendingRcuObjects
    {
        get
        {
            lock (_pendingLock)
            {
                return _pendingRcu.Count;
            }
        }
    }
}
