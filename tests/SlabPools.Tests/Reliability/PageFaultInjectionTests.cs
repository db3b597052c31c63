using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Linq;
using System.Threading;
using Microsoft.Extensions.Time.Testing;
using SlabPools.Pages;
using SlabPools.Tests.Infrastructure;
using Xunit;

namespace SlabPools.Tests.Reliability;

/// <summary>
/// Page allocation failing at random points while three threads use every face of the allocator:
/// each <see cref="OutOfMemoryException"/> is clean (nothing half made, nothing counted twice), the
/// pools keep working, and once everything is returned and shrunk no page is left allocated.
/// </summary>
public class PageFaultInjectionTests
{
    private const int Threads = 3;
    private const int OperationsPerThread = 4000;

    /// <summary>
    /// Fails <paramref name="percent"/>% of the page allocator's calls, chosen by a hash of the call
    /// number and the seed: the same calls fail in every run, whichever thread makes them.
    /// </summary>
    private static Func<int, bool> FailRandomly(int seed, int percent) => call =>
    {
        ulong z = ((ulong)(uint)seed << 32) + (uint)call + 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        z ^= z >> 31;
        return z % 100 < (ulong)percent;
    };

    [Theory]
    [InlineData(10, 1, SlabDebugFlags.None)]
    [InlineData(30, 2, SlabDebugFlags.None)]
    [InlineData(20, 3, SlabDebugFlags.ConsistencyChecks | SlabDebugFlags.RedZone | SlabDebugFlags.Poison)]
    public void Random_page_failures_leave_every_pool_working_and_leak_nothing(int percent, int seed, SlabDebugFlags debug)
    {
        var native = new FailingPageAllocator(new NativePageAllocator(), FailRandomly(seed, percent));
        var pinned = new FailingPageAllocator(new PinnedPageAllocator(), FailRandomly(seed + 1000, percent));
        var time = new FakeTimeProvider();
        using var allocator = new SlabAllocator(new SlabPoolsOptions { TimeProvider = time, Debug = debug }) { NativePages = native, PinnedPages = pinned };
        var log = new ErrorLog(allocator);
        var faces = new Faces(allocator);

        var handoff = new ConcurrentQueue<TestBuffer>[Threads];
        for (int i = 0; i < Threads; i++)
        {
            handoff[i] = new ConcurrentQueue<TestBuffer>();
        }

        int faceCount = Faces.All.Length;
        long[] rented = new long[faceCount];
        long[] failed = new long[faceCount];
        long[] recovered = new long[faceCount]; // a successful rent on a face, on any thread, after an OOM on it
        int[] failedSinceSuccess = new int[faceCount];
        long badStamps = 0;

        void Worker(int id)
        {
            var random = new Random(seed * 100 + id);
            var mine = new List<TestBuffer>();
            for (int op = 0; op < OperationsPerThread; op++)
            {
                int action = random.Next(100);
                if (action < 55 || mine.Count == 0)
                {
                    Face face = Faces.All[random.Next(faceCount)];
                    int size = Faces.RandomSize(random);
                    try
                    {
                        TestBuffer b = faces.Rent(face, size);
                        b.Stamp(random.Next());
                        mine.Add(b);
                        Interlocked.Increment(ref rented[(int)face]);
                        if (Interlocked.Exchange(ref failedSinceSuccess[(int)face], 0) != 0)
                        {
                            Interlocked.Increment(ref recovered[(int)face]);
                        }
                    }
                    catch (OutOfMemoryException e)
                    {
                        Assert.NotEqual(Face.Array, face); // arrays come from the GC heap, not from pages
                        Assert.Contains("injected failure", e.Message);
                        Interlocked.Increment(ref failed[(int)face]);
                        Volatile.Write(ref failedSinceSuccess[(int)face], 1);
                    }
                }
                else if (action < 92)
                {
                    int k = random.Next(mine.Count);
                    TestBuffer b = mine[k];
                    mine[k] = mine[^1];
                    mine.RemoveAt(mine.Count - 1);
                    if (action < 87)
                    {
                        Interlocked.Add(ref badStamps, Faces.ReturnAll([b]));
                    }
                    else
                    {
                        handoff[(id + 1) % Threads].Enqueue(b); // returned by another thread
                    }
                }
                else
                {
                    var theirs = new List<TestBuffer>();
                    while (handoff[id].TryDequeue(out TestBuffer? b))
                    {
                        theirs.Add(b);
                    }

                    Interlocked.Add(ref badStamps, Faces.ReturnAll(theirs));
                }

                // Empty slabs go back now and then, so that new pages keep being asked for (and failing).
                if (id == 0 && op % 500 == 499)
                {
                    allocator.Shrink();
                }
            }

            Interlocked.Add(ref badStamps, Faces.ReturnAll(mine));
        }

        Run.Parallel(Enumerable.Range(0, Threads).Select(id => (Action)(() => Worker(id))).ToArray());
        foreach (ConcurrentQueue<TestBuffer> queue in handoff)
        {
            badStamps += Faces.ReturnAll(queue);
        }

        string summary = string.Join(", ", Faces.All.Select(f => $"{f}: {rented[(int)f]} ok / {failed[(int)f]} OOM / {recovered[(int)f]} recovered"));
        Assert.Equal(0, badStamps);
        Assert.Empty(log.Errors);
        Assert.True(failed.Sum() > 20, summary);
        Assert.All(Faces.All, f => Assert.True(rented[(int)f] > 0, summary));
        // Under faults: a face that failed a few times also worked again in between. (A single failure
        // may be the face's last rent of the run; the check below, with the faults gone, covers it.)
        Assert.All(Faces.All.Where(f => failed[(int)f] >= 3), f => Assert.True(recovered[(int)f] > 0, $"{f} never worked again after an OOM: {summary}"));

        // Everything is back: nothing active anywhere, nothing counted twice.
        Assert.True(Faces.Active(allocator) == 0, Faces.Busy(allocator));
        Assert.All(allocator.GetInfo(), i => Assert.Equal(i.Slabs * i.ObjectsPerSlab, i.TotalObjects));

        // With the faults gone, every face works again.
        native.FailWhen = _ => false;
        pinned.FailWhen = _ => false;
        var again = Faces.All.Select(f => faces.Rent(f, 1000)).ToList();
        again.ForEach(b => b.Stamp(42));
        Assert.Equal(0, Faces.ReturnAll(again));
        Assert.True(Faces.Active(allocator) == 0, Faces.Busy(allocator));

        // Shrink gives back every page: no slab leaked by a failed allocation, none freed twice.
        allocator.Shrink();
        Assert.All(allocator.GetInfo(), i => Assert.Equal(0, i.BytesReserved));
        Assert.Equal(0, native.BytesInUse);
        Assert.Equal(0, native.Inner.BytesInUse);
        Assert.Equal(0, pinned.BytesInUse);
        Assert.Equal(0, pinned.Inner.BytesInUse);
        Assert.Equal(native.BlocksAllocated, native.BlocksFreed);
        Assert.Equal(pinned.BlocksAllocated, pinned.BlocksFreed);
        Assert.Empty(log.Errors);
    }

    [Fact]
    public void A_page_failure_changes_nothing_that_get_info_shows()
    {
        // One thread, so that the counts can be compared right at each failure.
        var native = new FailingPageAllocator(new NativePageAllocator(), FailRandomly(7, 30));
        var pinned = new FailingPageAllocator(new PinnedPageAllocator(), FailRandomly(8, 30));
        using var allocator = new SlabAllocator(new SlabPoolsOptions { TimeProvider = new FakeTimeProvider() }) { NativePages = native, PinnedPages = pinned };
        var faces = new Faces(allocator);
        var random = new Random(9);
        var live = new List<TestBuffer>();
        int failures = 0;
        for (int i = 0; i < 1500; i++)
        {
            if (random.Next(3) == 0 && live.Count > 0)
            {
                int k = random.Next(live.Count);
                Assert.Equal(0, Faces.ReturnAll([live[k]]));
                live.RemoveAt(k);
                continue;
            }

            Face face = Faces.All[random.Next(Faces.All.Length)];
            var before = allocator.GetInfo().ToDictionary(c => c.Name, c => (c.ActiveObjects, c.TotalObjects, c.BytesReserved));
            long nativeBytes = native.BytesInUse, pinnedBytes = pinned.BytesInUse;
            try
            {
                TestBuffer b = faces.Rent(face, Faces.RandomSize(random));
                b.Stamp(i);
                live.Add(b);
            }
            catch (OutOfMemoryException)
            {
                failures++;
                Assert.Equal(nativeBytes, native.BytesInUse);
                Assert.Equal(pinnedBytes, pinned.BytesInUse);
                foreach (SlabCacheInfo after in allocator.GetInfo())
                {
                    (long active, long total, long reserved) = before.TryGetValue(after.Name, out var b) ? b : (0, 0, 0);
                    Assert.Equal((active, total, reserved), (after.ActiveObjects, after.TotalObjects, after.BytesReserved));
                }
            }

            if (i % 300 == 299)
            {
                allocator.Shrink();
            }
        }

        Assert.True(failures > 20, $"{failures} failures");
        Assert.Equal(live.Count(b => !b.Uncached), Faces.Active(allocator));
        Assert.Equal(0, Faces.ReturnAll(live));
        allocator.Shrink();
        Assert.Equal(0, native.BytesInUse);
        Assert.Equal(0, pinned.BytesInUse);
    }
}
