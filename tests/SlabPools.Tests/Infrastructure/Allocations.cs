using System;

namespace SlabPools.Tests.Infrastructure;

/// <summary>Checks that code allocates nothing on the calling thread (SlabPools.Extensions.Tests compiles this file in as a link).</summary>
internal static class Allocations
{
    /// <summary>
    /// Runs <paramref name="body"/> twice to warm up, then measures several rounds and asserts that
    /// at least one allocated nothing. Any per-call allocation shows in every round and fails; what
    /// the runtime itself allocates once in a while (tiered compilation installing new code) cannot
    /// fail every round.
    /// </summary>
    public static void AssertNone(Action body, int rounds = 5)
    {
        body();
        body();
        var measured = new long[rounds];
        for (int r = 0; r < rounds; r++)
        {
            long before = GC.GetAllocatedBytesForCurrentThread();
            body();
            measured[r] = GC.GetAllocatedBytesForCurrentThread() - before;
        }

        if (Array.IndexOf(measured, 0L) < 0)
        {
            throw new Xunit.Sdk.XunitException($"allocated in every round: {string.Join(", ", measured)} bytes");
        }
    }
}
