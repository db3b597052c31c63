using System;
using System.Buffers;
using System.Collections.Concurrent;
using System.Diagnostics;
using System.IO.Pipelines;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using SlabPools.Tests.Infrastructure;
using Xunit;
using Xunit.Abstractions;

namespace SlabPools.Tests.Reliability;

/// <summary>
/// Random sizes across every pool from several threads, with buffers handed between threads:
/// every buffer is stamped when rented and verified before it is returned. The duration comes from
/// SLABPOOLS_SOAK_SECONDS (default 20; perf/soak.sh runs it for ten minutes).
/// </summary>
public class SoakTests(ITestOutputHelper output)
{
    private const int Threads = 4;

    private static TimeSpan Duration =>
        TimeSpan.FromSeconds(int.TryParse(Environment.GetEnvironmentVariable("SLABPOOLS_SOAK_SECONDS"), out int s) && s > 0 ? s : 20);

    private interface IBuffer
    {
        Span<byte> Span { get; }

        void Return();
    }

    private sealed class ArrayBuffer(ArrayPool<byte> pool, byte[] array, int length) : IBuffer
    {
        public Span<byte> Span => array.AsSpan(0, length);

        public void Return() => pool.Return(array);
    }

    private sealed class OwnerBuffer(IMemoryOwner<byte> owner, int length) : IBuffer
    {

        public Span<byte> Span => owner.Memory.Span[..length];

        public void Return() => owner.Dispose();
    }

    private sealed unsafe class PointerBuffer(NativeBufferPool pool, nint address, int length) : IBuffer
    {
        public Span<byte> Span => new((void*)address, length);

        public void Return() => pool.Free(address);
    }

    [Fact]
    public void Soak_every_pool_from_several_threads_with_cross_thread_returns()
    {
        // A fake clock that worker 0 advances as it goes: the flusher runs during the soak, but at known
        // points and never after the workers are done (so the final checks are not racing a tick).
        var time = new Microsoft.Extensions.Time.Testing.FakeTimeProvider();
        using var allocator = new SlabAllocator(new SlabPoolsOptions { TimeProvider = time });
        var log = new ErrorLog(allocator);
        var handoff = new ConcurrentQueue<(IBuffer Buffer, int Stamp)>[Threads];
        for (int i = 0; i < Threads; i++)
        {
            handoff[i] = new ConcurrentQueue<(IBuffer, int)>();
        }

        long operations = 0, mismatches = 0;
        var stopwatch = Stopwatch.StartNew();
        TimeSpan duration = Duration;
        long firstHalfPeak = 0, secondHalfPeak = 0;

        // Every worker stops when the first one does (time up, or its operation cap reached): a worker
        // that stopped alone would no longer take the buffers its neighbour hands it, and those would
        // pile up in its queue until the end, as if the pools were growing.
        int stop = 0;

        void Worker(int id)
        {
            var random = new Random(1000 + id);
            var mine = new System.Collections.Generic.List<(IBuffer Buffer, int Stamp)>();
            long ops = 0;
            while (Volatile.Read(ref stop) == 0)
            {
                if (stopwatch.Elapsed >= duration || ops >= 1_000_000_000)
                {
                    Volatile.Write(ref stop, 1);
                    break;
                }

                ops++;
                int action = random.Next(10);
                if ((action < 5 && mine.Count < 256) || mine.Count == 0)
                {
                    int size = (int)Math.Pow(2, 4 + (random.NextDouble() * 13)); // 16 B .. 128 KiB
                    IBuffer buffer = random.Next(3) switch
                    {
                        0 => new ArrayBuffer(allocator.ArrayPool, allocator.ArrayPool.Rent(size), size),
                        1 => new OwnerBuffer(random.Next(2) == 0 ? allocator.MemoryPool.Rent(size) : allocator.NativeBufferPool.Rent(size), size),
                        _ => new PointerBuffer(allocator.NativeBufferPool, allocator.NativeBufferPool.Allocate(size), size),
                    };
                    int stamp = random.Next();
                    Stamp(buffer.Span, stamp);
                    mine.Add((buffer, stamp));
                }
                else if (action < 8)
                {
                    int k = random.Next(mine.Count);
                    (IBuffer buffer, int stamp) = mine[k];
                    mine[k] = mine[^1];
                    mine.RemoveAt(mine.Count - 1);
                    if (!Verify(buffer.Span, stamp))
                    {
                        Interlocked.Increment(ref mismatches);
                    }

                    if (action == 5)
                    {
                        handoff[(id + 1) % Threads].Enqueue((buffer, stamp)); // returned by another thread
                    }
                    else
                    {
                        buffer.Return();
                    }
                }
                else
                {
                    while (handoff[id].TryDequeue(out (IBuffer Buffer, int Stamp) item))
                    {
                        if (!Verify(item.Buffer.Span, item.Stamp))
                        {
                            Interlocked.Increment(ref mismatches);
                        }

                        item.Buffer.Return();
                    }
                }

                if (id == 0 && ops % 4096 == 0)
                {
                    time.Advance(TimeSpan.FromSeconds(1));
                    long reserved = allocator.GetInfo().Sum(i => i.BytesReserved);
                    if (stopwatch.Elapsed < duration / 2)
                    {
                        firstHalfPeak = Math.Max(firstHalfPeak, reserved);
                    }
                    else
                    {
                        secondHalfPeak = Math.Max(secondHalfPeak, reserved);
                    }
                }
            }

            foreach ((IBuffer buffer, int stamp) in mine)
            {
                if (!Verify(buffer.Span, stamp))
                {
                    Interlocked.Increment(ref mismatches);
                }

                buffer.Return();
            }

            Interlocked.Add(ref operations, ops);
        }

        // Bounded: the soak's own duration plus a minute for the workers to finish and verify.
        Run.Parallel(duration + TimeSpan.FromSeconds(60), Enumerable.Range(0, Threads).Select(id => (Action)(() => Worker(id))).ToArray());
        foreach (var queue in handoff)
        {
            while (queue.TryDequeue(out (IBuffer Buffer, int Stamp) item))
            {
                if (!Verify(item.Buffer.Span, item.Stamp))
                {
                    mismatches++;
                }

                item.Buffer.Return();
            }
        }

        PipeRoundTrip(allocator, ref mismatches);
        output.WriteLine($"{operations:N0} operations on {Threads} threads in {stopwatch.Elapsed.TotalSeconds:F1} s, {mismatches} mismatches, peak reserved {firstHalfPeak / 1024} KiB then {secondHalfPeak / 1024} KiB");
        Assert.Equal(0, mismatches);
        Assert.Empty(log.Errors);
        Assert.All(allocator.GetInfo(), i => Assert.Equal(0, i.ActiveObjects));
        Assert.True(secondHalfPeak <= Math.Max(firstHalfPeak * 2, 64L << 20), $"reserved memory grew: {firstHalfPeak} then {secondHalfPeak}");
        allocator.Shrink();
        Assert.All(allocator.GetInfo(), i => Assert.True(i.BytesReserved == 0, $"{i.Name}: {i.BytesReserved} bytes in {i.Slabs} slabs ({i.PartialSlabs} partial, {i.ActiveObjects} active) after Shrink"));
    }

    private static void PipeRoundTrip(SlabAllocator allocator, ref long mismatches)
    {
        var pipe = new Pipe(new PipeOptions(pool: allocator.MemoryPool, minimumSegmentSize: 4096, useSynchronizationContext: false));
        const int total = 4 << 20;
        var writer = Task.Run(async () =>
        {
            var random = new Random(5);
            for (int written = 0; written < total;)
            {
                int n = Math.Min(random.Next(1, 20_000), total - written);
                Memory<byte> memory = pipe.Writer.GetMemory(n);
                for (int i = 0; i < n; i++)
                {
                    memory.Span[i] = (byte)(written + i);
                }

                pipe.Writer.Advance(n);
                written += n;
                await pipe.Writer.FlushAsync();
            }

            await pipe.Writer.CompleteAsync();
        });
        long bad = 0;
        var reader = Task.Run(async () =>
        {
            long position = 0;
            while (true)
            {
                ReadResult result = await pipe.Reader.ReadAsync();
                foreach (ReadOnlyMemory<byte> segment in result.Buffer)
                {
                    foreach (byte b in segment.Span)
                    {
                        if (b != (byte)position++)
                        {
                            bad++;
                        }
                    }
                }

                pipe.Reader.AdvanceTo(result.Buffer.End);
                if (result.IsCompleted)
                {
                    break;
                }
            }

            await pipe.Reader.CompleteAsync();
            return position;
        });
        Assert.True(Task.WaitAll([writer, reader], TimeSpan.FromSeconds(60)));
        Assert.Equal(total, reader.Result);
        mismatches += bad;
    }

    private static void Stamp(Span<byte> span, int stamp)
    {
        // Every 64th byte and the last one (which is never one of them).
        for (int i = 0; i < span.Length - 1; i += 64)
        {
            span[i] = (byte)(stamp + i);
        }

        span[^1] = (byte)(stamp >> 8);
    }

    private static bool Verify(Span<byte> span, int stamp)
    {
        for (int i = 0; i < span.Length - 1; i += 64)
        {
            if (span[i] != (byte)(stamp + i))
            {
                return false;
            }
        }

        return span[^1] == (byte)(stamp >> 8);
    }
}
