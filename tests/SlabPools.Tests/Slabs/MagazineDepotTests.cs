using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading;
using SlabPools.Slabs;
using Xunit;

namespace SlabPools.Tests.Slabs;

public class MagazineDepotTests
{
    /// <summary>A backend of integers that records every refill and drain.</summary>
    private sealed class CountingBackend : IMagazineBackend<int>
    {
        private readonly Lock _lock = new();
        private int _next = 1;

        public List<int> Drained { get; } = new();

        public int Refills { get; private set; }

        public int Drains { get; private set; }

        public int Activity { get; private set; }

        public int Refill(Span<int> destination)
        {
            lock (_lock)
            {
                Refills++;
                for (int i = 0; i < destination.Length; i++)
                {
                    destination[i] = _next++;
                }

                return destination.Length;
            }
        }

        public void Drain(ReadOnlySpan<int> objects)
        {
            lock (_lock)
            {
                Drains++;
                Drained.AddRange(objects.ToArray());
            }
        }

        public void NoteActivity()
        {
            lock (_lock)
            {
                Activity++;
            }
        }
    }

    private static void OnThread(Action action)
    {
        Exception? error = null;
        var thread = new Thread(() =>
        {
            try
            {
                action();
            }
            catch (Exception e)
            {
                error = e;
            }
        });
        thread.Start();
        Assert.True(thread.Join(TimeSpan.FromSeconds(30)), "the thread did not finish");
        if (error is not null)
        {
            throw new InvalidOperationException("the thread failed", error);
        }
    }

    [Fact]
    public void The_depot_hands_out_its_oldest_batch_first_and_wraps_around()
    {
        var depot = new MagazineDepot<int>(2, 3);
        Assert.True(depot.TryPut([1, 2]));
        Assert.True(depot.TryPut([3, 4]));
        Assert.True(depot.TryPut([5, 6]));
        Assert.False(depot.TryPut([7, 8]), "three batches at most");

        var batch = new int[2];
        Assert.Equal(2, depot.TryTake(batch));
        Assert.Equal(new[] { 1, 2 }, batch);

        // The freed place is reused behind the newest batch, and the order holds across the wrap.
        Assert.True(depot.TryPut([7, 8]));
        var taken = new List<int>();
        while (depot.TryTake(batch) == 2)
        {
            taken.AddRange(batch);
        }

        Assert.Equal(new[] { 3, 4, 5, 6, 7, 8 }, taken);
        Assert.Equal(0, depot.CachedObjects);
    }

    [Fact]
    public void A_pop_also_names_the_object_the_next_pop_takes()
    {
        var cache = new ThreadCache<int>(8, new CountingBackend(), depotBatches: 4);
        OnThread(() =>
        {
            foreach (int item in new[] { 10, 20, 30 })
            {
                if (!cache.TryPush(item))
                {
                    cache.PushSlow(item); // the thread's first push makes its magazine
                }
            }

            var popped = new List<(int Item, int Next)>();
            while (ThreadCache<int>.TryPop(ThreadCacheTable.t_table, cache.Id, out int item, out int next))
            {
                popped.Add((item, next));
            }

            // Last in, first out; the last pop has no next (default).
            Assert.Equal(new[] { (30, 20), (20, 10), (10, 0) }, popped);
            Assert.False(ThreadCache<int>.TryPop(ThreadCacheTable.t_table, cache.Id, out _, out int none));
            Assert.Equal(0, none);
        });
    }

    [Fact]
    public void Objects_freed_on_one_thread_reach_another_through_the_depot_without_the_backend()
    {
        var backend = new CountingBackend();
        var cache = new ThreadCache<int>(8, backend, depotBatches: 4);
        int[] freed = Enumerable.Range(1000, 24).ToArray();

        // The freeing thread overflows its magazine of 8 four times: 4 half-magazines go to the depot.
        OnThread(() =>
        {
            foreach (int item in freed)
            {
                if (!ThreadCache<int>.TryPush(cache.Id, item))
                {
                    cache.PushSlow(item);
                }
            }
        });

        Assert.Equal(0, backend.Drains);
        Assert.Equal(16, cache.Depot!.CachedObjects);
        Assert.Equal(4, backend.Activity); // depot traffic keeps the flusher armed

        // The allocating thread's empty magazine takes those batches whole.
        var got = new List<int>();
        OnThread(() =>
        {
            for (int i = 0; i < 8; i++)
            {
                got.Add(ThreadCache<int>.TryPop(cache.Id, out int item) ? item : cache.PopSlow());
            }
        });

        Assert.Equal(0, backend.Refills);
        Assert.Equal(8, cache.Depot.CachedObjects);
        Assert.Equal(8, got.Distinct().Count());
        Assert.All(got, item => Assert.Contains(item, freed));

        // The freeing thread's magazine (8) and the depot (8) go back on flush;
        // every freed object is then either rented or back in the backend, exactly once.
        int flushed = cache.FlushRemote();
        Assert.Equal(16, flushed);
        Assert.Equal(freed.Order(), got.Concat(backend.Drained).Order());
    }

    [Fact]
    public void A_full_depot_sends_the_overflow_to_the_backend_and_a_flush_empties_it()
    {
        var backend = new CountingBackend();
        var cache = new ThreadCache<int>(4, backend, depotBatches: 2);
        OnThread(() =>
        {
            for (int i = 0; i < 20; i++)
            {
                if (!ThreadCache<int>.TryPush(cache.Id, i))
                {
                    cache.PushSlow(i);
                }
            }
        });

        // 20 frees into a magazine of 4: 8 overflows of 2; the depot keeps 2 of them.
        Assert.Equal(2 * 2, cache.Depot!.CachedObjects);
        Assert.Equal(6, backend.Drains);
        Assert.Equal(4 + 4, cache.CachedObjects);

        Assert.Equal(8, cache.FlushRemote());
        Assert.Equal(0, cache.CachedObjects);
        Assert.Equal(Enumerable.Range(0, 20), backend.Drained.Order());
    }

    [Fact]
    public void Threads_putting_and_taking_at_once_lose_and_duplicate_nothing()
    {
        // 4 threads, 100,000 operations each, on a depot of 8 batches of 4: every object ends up in
        // exactly one place (a thread's hands, or drained back), whatever the interleaving.
        const int Threads = 4;
        const int PerThread = 64;
        var depot = new MagazineDepot<int>(4, 8);
        var hands = new List<int>[Threads];
        var threads = new Thread[Threads];
        var errors = new List<Exception>();
        for (int t = 0; t < Threads; t++)
        {
            int id = t;
            hands[id] = Enumerable.Range(id * PerThread, PerThread).ToList();
            threads[id] = new Thread(() =>
            {
                try
                {
                    var random = new Random(id);
                    var batch = new int[4];
                    List<int> mine = hands[id];
                    for (int i = 0; i < 100_000; i++)
                    {
                        if (random.Next(2) == 0 && mine.Count >= 4)
                        {
                            mine.CopyTo(mine.Count - 4, batch, 0, 4);
                            if (depot.TryPut(batch))
                            {
                                mine.RemoveRange(mine.Count - 4, 4);
                            }
                        }
                        else
                        {
                            int n = depot.TryTake(batch);
                            mine.AddRange(batch.AsSpan(0, n).ToArray());
                        }
                    }
                }
                catch (Exception e)
                {
                    lock (errors)
                    {
                        errors.Add(e);
                    }
                }
            });
            threads[id].Start();
        }

        foreach (Thread thread in threads)
        {
            Assert.True(thread.Join(TimeSpan.FromSeconds(60)), "a thread did not finish");
        }

        Assert.Empty(errors);
        var backend = new CountingBackend();
        depot.DrainTo(backend);
        Assert.Equal(0, depot.CachedObjects);
        Assert.Equal(Enumerable.Range(0, Threads * PerThread), hands.SelectMany(h => h).Concat(backend.Drained).Order());
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void What_an_exited_thread_left_in_the_depot_goes_back_to_the_slabs(bool native)
    {
        // 300 buffers returned on a thread that then exits: most of them sit in the depot (and the
        // rest in the dead thread's magazine and hot slot); one Shrink gives every slab back.
        using var allocator = new SlabAllocator(new SlabPoolsOptions { TimeProvider = new Microsoft.Extensions.Time.Testing.FakeTimeProvider() });
        System.Buffers.MemoryPool<byte> pool = native ? allocator.NativeBufferPool : allocator.MemoryPool;
        OnThread(() =>
        {
            System.Buffers.IMemoryOwner<byte>[] owners = Enumerable.Range(0, 300).Select(_ => pool.Rent(4096)).ToArray();
            Array.ForEach(owners, o => o.Dispose());
        });

        Assert.True(allocator.GetInfo().Sum(i => i.BytesReserved) > 0);
        allocator.Shrink();
        Assert.Equal(0, allocator.GetInfo().Sum(i => i.ActiveObjects));
        Assert.Equal(0, allocator.GetInfo().Sum(i => i.BytesReserved));

        // And the pool still works: the buffers come from new slabs.
        System.Buffers.IMemoryOwner<byte> again = pool.Rent(4096);
        again.Memory.Span.Fill(7);
        again.Dispose();
    }

    [Fact]
    public void A_closed_depot_takes_no_batch()
    {
        var backend = new CountingBackend();
        var depot = new MagazineDepot<int>(2, 4);
        Assert.True(depot.TryPut([1, 2]));
        Assert.False(depot.TryPut([3]), "a batch is exactly BatchSize objects");
        Assert.Equal(2, depot.DrainTo(backend, close: true));
        Assert.False(depot.TryPut([3, 4]));
        Assert.Equal(0, depot.TryTake(new int[2]));
        Assert.Equal([1, 2], backend.Drained);
    }

    [Fact]
    public void Batches_move_in_and_out_without_allocating()
    {
        var depot = new MagazineDepot<object?>(2, 1);
        object a = new(), b = new(), c = new(), d = new();
        Assert.True(depot.TryPut([a, b]));
        Assert.False(depot.TryPut([c, d]), "the depot holds one batch");
        var into = new object?[3];
        Assert.Equal(2, depot.TryTake(into));
        Assert.Same(a, into[0]);
        Assert.Same(b, into[1]);
        Assert.Null(into[2]);
        Assert.Equal(0, depot.TryTake(into));

        // Once to warm up (the first calls of a method may allocate in the runtime), once measured.
        object?[] cd = [c, d];
        long allocated = 0;
        for (int round = 0; round < 2; round++)
        {
            long before = GC.GetAllocatedBytesForCurrentThread();
            bool put = depot.TryPut(cd);
            int taken = depot.TryTake(into);
            allocated = GC.GetAllocatedBytesForCurrentThread() - before;
            Assert.True(put);
            Assert.Equal(2, taken);
            Assert.Same(c, into[0]);
        }

        Assert.Equal(0, allocated);
    }
}
