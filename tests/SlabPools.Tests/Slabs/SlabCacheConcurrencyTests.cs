using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using SlabPools.Tests.Infrastructure;
using Xunit;

namespace SlabPools.Tests.Slabs;

public class SlabCacheConcurrencyTests
{
    [Theory]
    [InlineData(64)]
    [InlineData(4096)]
    public unsafe void Objects_allocated_on_one_thread_and_freed_on_another_stay_intact(int size)
    {
        using var allocator = new SlabAllocator();
        var log = new ErrorLog(allocator);
        SlabCache cache = allocator.CreateCache("cross", size, new SlabCacheOptions { AllowMerge = false });
        const int total = 200_000;
        var queue = new BlockingCollection<nint>(boundedCapacity: 1024);
        long mismatches = 0;

        void Producer()
        
        {
            for (int i = 0; i < total; i++)
            {
                nint p = cache.Allocate();
                *(int*)(p + 16) = i;            // stamp (past the free mark)
                *(int*)(p + size - 4) = ~i;
                queue.Add(p);
            }

            queue.CompleteAdding();
        }

        void Consumer()
        
        {
            int expected = 0;
            foreach (nint p in queue.GetConsumingEnumerable())
            {
                if (*(int*)(p + 16) != expected || *(int*)(p + size - 4) != ~expected)
                {
                    Interlocked.Increment(ref mismatches);
                }

                expected++;
                cache.Free(p);
            }
        }

        Run.Parallel(Producer, Consumer);
        Assert.Equal(0, mismatches);
        Assert.Empty(log.Errors);
        Assert.Equal(0, cache.GetInfo().ActiveObjects);
        cache.Shrink();
        Assert.Equal(0, cache.GetInfo().Slabs);
    }

    [Fact]
    public unsafe void Two_threads_allocating_and_freeing_each_others_objects_never_share_one()
    {
        using var allocator = new SlabAllocator();
        var log = new ErrorLog(allocator);
        SlabCache cache = allocator.CreateCache("mixed", 128, new SlabCacheOptions { AllowMerge = false });
        var exchange = new ConcurrentQueue<nint>();
        long corrupt = 0;

        void Worker(int seed)
        {
            var random = new Random(seed);
            var mine = new List<nint>();
            for (int i = 0; i < 100_000; i++)
            {
                int op = random.Next(4);
                if (op < 2 || mine.Count == 0)
                {
                    nint p = cache.Allocate();
                    *(long*)(p + 16) = p ^ seed;
                    mine.Add(p);
                }
                else if (op == 2)
                {
                    nint p = mine[^1];
                    mine.RemoveAt(mine.Count - 1);
                    if (*(long*)(p + 16) != (p ^ seed))
                    {
                        Interlocked.Increment(ref corrupt);
                    }

                    *(long*)(p + 16) = 0;
                    exchange.Enqueue(p); // the other thread frees it
                }
                else if (exchange.TryDequeue(out nint q))
                {
                    cache.Free(q);
                }
            }

            foreach (nint p in mine)
            {
                exchange.Enqueue(p);
            }
        }

        Run.Parallel(() => Worker(1), () => Worker(2));
        while (exchange.TryDequeue(out nint p))
        {
            cache.Free(p);
        }

        Assert.Equal(0, corrupt);
        Assert.Empty(log.Errors);
        Assert.Equal(0, cache.GetInfo().ActiveObjects);
    }

    [Fact]
    public void Flushing_while_other_threads_allocate_loses_nothing()
    {
        using var allocator = new SlabAllocator();
        var log = new ErrorLog(allocator);
        SlabCache cache = allocator.CreateCache("flush-race", 256, new SlabCacheOptions { AllowMerge = false });
        int running = 2;
        void Worker(int seed)
        {
            var random = new Random(seed);
            var mine = new List<nint>();
            for (int i = 0; i < 300_000; i++)
            {
                if (random.Next(2) == 0 || mine.Count == 0)
                {
                    mine.Add(cache.Allocate());
                }
                else
                {
                    int k = random.Next(mine.Count);
                    cache.Free(mine[k]);
                    mine[k] = mine[^1];
                    mine.RemoveAt(mine.Count - 1);
                }
            }

            mine.ForEach(cache.Free);
            Interlocked.Decrement(ref running);
        }

        void Flusher()
        {
            for (int flushes = 0; Volatile.Read(ref running) > 0 && flushes < 20_000; flushes++)
            {
                cache.Shrink();
            }
        }

        Run.Parallel(() => Worker(1), () => Worker(2), Flusher);
        Assert.Empty(log.Errors);
        Assert.Equal(0, cache.GetInfo().ActiveObjects);
        cache.Shrink();
        Assert.Equal(0, cache.GetInfo().Slabs);
    }
}
