using System;
using System.Collections.Generic;
using System.Linq;
using CsCheck;
using SlabPools.Tests.Infrastructure;
using Xunit;

namespace SlabPools.Tests.Slabs;

/// <summary>Random allocate/free sequences checked against a plain model (a set of live objects per cache).</summary>
public class SlabCacheModelTests
{
    private static readonly int[] s_sizes = [16, 192, 4096, 70_000];

    // An operation: (true, cache, _) allocates from a cache; (false, _, pick) frees the pick-th live object.
    private static readonly Gen<(bool Allocate, int Cache, int Pick)> s_op =
        Gen.Select(Gen.Int[0, 99], Gen.Int[0, s_sizes.Length - 1], Gen.Int[0, 1_000_000])
           .Select((p, c, k) => (p < 60, c, k));

    [Fact]
    public void Random_sequences_never_hand_out_an_object_twice_and_counts_match_the_model()
    {
        s_op.Array[1, 400].Sample(ops =>
        {
            using var allocator = new SlabAllocator();
            var log = new ErrorLog(allocator);
            SlabCache[] caches = s_sizes.Select(s => allocator.CreateCache("model-" + s, s, new SlabCacheOptions { AllowMerge = false })).ToArray();
            var live = new List<(int Cache, nint Address)>();
            var liveSet = new HashSet<nint>();
            foreach ((bool allocate, int c, int pick) in ops)
            {
                if (allocate || live.Count == 0)
                {
                    nint p = caches[c].Allocate();
                    if (!liveSet.Add(p))
                    {
                        throw new InvalidOperationException($"object 0x{p:x} handed out twice");
                    }

                    live.Add((c, p));
                }
                else
                {
                    int i = pick % live.Count;
                    (int cache, nint p) = live[i];
                    live[i] = live[^1];
                    live.RemoveAt(live.Count - 1);
                    liveSet.Remove(p);
                    caches[cache].Free(p);
                }
            }

            for (int c = 0; c < caches.Length; c++)
            {
                SlabCacheInfo info = caches[c].GetInfo();
                long expected = live.Count(o => o.Cache == c);
                if (info.ActiveObjects != expected || info.TotalObjects < expected || info.TotalObjects != info.Slabs * info.ObjectsPerSlab)
                {
                    throw new InvalidOperationException($"{info.Name}: active {info.ActiveObjects}, model {expected}, total {info.TotalObjects}");
                }
            }

            // Free everything: the caches come back to empty and shrink to nothing.
            foreach ((int c, nint p) in live)
            {
                caches[c].Free(p);
            }

            allocator.Shrink();
            foreach (SlabCacheInfo info in allocator.GetInfo())
            {
                if (info.ActiveObjects != 0 || info.Slabs != 0 || info.BytesReserved != 0)
                {
                    throw new InvalidOperationException($"{info.Name}: not empty after freeing everything ({info.ActiveObjects} active, {info.Slabs} slabs)");
                }
            }

            if (log.Errors.Count != 0)
            {
                throw new InvalidOperationException("unexpected report: " + log.Errors[0].Message);
            }
        }, iter: 300, threads: 1);
    }
}
