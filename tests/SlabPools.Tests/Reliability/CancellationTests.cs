using System;
using System.Buffers;
using System.Collections.Generic;
using System.IO.Pipelines;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using Microsoft.Extensions.Time.Testing;
using SlabPools.Tests.Infrastructure;
using Xunit;

namespace SlabPools.Tests.Reliability;

/// <summary>
/// Tasks cancelled while they hold buffers give them back from their finally blocks, on whatever
/// thread the cancellation resumes them; Pipes over the slab memory pool cancelled or failed
/// mid-stream return every segment. Cancellation is triggered at known points, never by a timeout.
/// </summary>
public class CancellationTests
{
    private static SlabAllocator NewAllocator() => new(new SlabPoolsOptions { TimeProvider = new FakeTimeProvider() });

    private static void AssertAllReturned(SlabAllocator allocator, ErrorLog log)
    {
        Assert.True(Faces.Active(allocator) == 0, Faces.Busy(allocator));
        Assert.Empty(log.Errors);
    }

    /// <summary>Waits on something that only cancellation ends, in one of several ways.</summary>
    private static async Task WaitUntilCancelled(int how, SemaphoreSlim gate, Pipe pipe, CancellationToken token)
    {
        switch (how % 4)
        {
            case 0:
                await gate.WaitAsync(token);
                break;
            case 1:
                await new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously).Task.WaitAsync(token);
                break;
            case 2:
                await Task.Delay(Timeout.InfiniteTimeSpan, token);
                break;
            default:
                await pipe.Reader.ReadAsync(token); // nothing is ever written
                break;
        }

        throw new InvalidOperationException("the wait ended without cancellation");
    }

    [Fact]
    public async Task Workers_cancelled_while_waiting_return_their_buffers_in_finally_blocks()
    {
        using SlabAllocator allocator = NewAllocator();
        var log = new ErrorLog(allocator);
        var faces = new Faces(allocator);
        var gate = new SemaphoreSlim(0);
        Pipe[] idle = Enumerable.Range(0, 8).Select(_ => new Pipe(new PipeOptions(pool: allocator.MemoryPool, useSynchronizationContext: false))).ToArray();
        long badStamps = 0;
        for (int round = 0; round < 25; round++)
        {
            using var cts = new CancellationTokenSource();
            long cached = 0; // buffers held from the caches (not the rare large pointer block)
            var holding = Enumerable.Range(0, 8).Select(_ => new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).ToArray();
            Task[] workers = Enumerable.Range(0, 8).Select(w => Task.Run(async () =>
            {
                var random = new Random((round * 8) + w);
                var held = new List<TestBuffer>();
                try
                {
                    for (int k = 0; k < 6; k++)
                    {
                        TestBuffer b = faces.Rent(Faces.All[random.Next(Faces.All.Length)], Faces.RandomSize(random));
                        b.Stamp(random.Next());
                        held.Add(b);
                    }

                    Interlocked.Add(ref cached, held.Count(b => !b.Uncached));
                    holding[w].SetResult();
                    await WaitUntilCancelled(w + round, gate, idle[w], cts.Token);
                }
                finally
                {
                    Interlocked.Add(ref badStamps, Faces.ReturnAll(held));
                }
            })).ToArray();

            await Task.WhenAll(holding.Select(h => h.Task));
            Assert.Equal(Interlocked.Read(ref cached), Faces.Active(allocator)); // every worker holds its buffers
            cts.Cancel(); // synchronously: some finally blocks run right here, on the test's thread
            foreach (Task worker in workers)
            {
                await Assert.ThrowsAnyAsync<OperationCanceledException>(() => worker);
            }

            AssertAllReturned(allocator, log);
        }

        Assert.Equal(0, badStamps);
        foreach (Pipe pipe in idle)
        {
            await pipe.Writer.CompleteAsync();
            await pipe.Reader.CompleteAsync();
        }

        AssertAllReturned(allocator, log);
    }

    [Fact]
    public async Task Workers_cancelled_by_one_of_them_in_the_middle_of_renting_return_everything()
    {
        using SlabAllocator allocator = NewAllocator();
        var log = new ErrorLog(allocator);
        var faces = new Faces(allocator);
        long badStamps = 0;
        for (int round = 0; round < 25; round++)
        {
            using var cts = new CancellationTokenSource();
            int canceller = round % 4;
            int cancelAfter = 5 + round;
            Task[] workers = Enumerable.Range(0, 4).Select(w => Task.Run(async () =>
            {
                var random = new Random(1000 + (round * 4) + w);
                var held = new List<TestBuffer>();
                try
                {
                    for (int k = 0; k < 10_000; k++)
                    {
                        cts.Token.ThrowIfCancellationRequested();
                        TestBuffer b = faces.Rent(Faces.All[random.Next(Faces.All.Length)], Faces.RandomSize(random));
                        b.Stamp(random.Next());
                        held.Add(b);
                        if (held.Count > 20)
                        {
                            Interlocked.Add(ref badStamps, Faces.ReturnAll(held.Take(10)));
                            held.RemoveRange(0, 10);
                        }

                        if (w == canceller && k == cancelAfter)
                        {
                            await cts.CancelAsync(); // deterministic trigger: this worker's k-th rent
                        }

                        await Task.Yield();
                    }
                }
                finally
                {
                    Interlocked.Add(ref badStamps, Faces.ReturnAll(held));
                }
            })).ToArray();

            foreach (Task worker in workers)
            {
                await Assert.ThrowsAnyAsync<OperationCanceledException>(() => worker);
            }

            AssertAllReturned(allocator, log);
        }

        Assert.Equal(0, badStamps);
    }

    private static PipeOptions Options(SlabAllocator allocator) =>
        new(pool: allocator.MemoryPool, minimumSegmentSize: 4096, pauseWriterThreshold: 64 * 1024, resumeWriterThreshold: 32 * 1024, useSynchronizationContext: false);

    private static async Task WriteChunksAsync(PipeWriter writer, int chunks, int seed)
    {
        var random = new Random(seed);
        for (int i = 0; i < chunks; i++)
        {
            int n = random.Next(1, 20_000);
            Memory<byte> memory = writer.GetMemory(n);
            memory.Span[..n].Fill((byte)i);
            writer.Advance(n);
            await writer.FlushAsync();
        }
    }

    [Fact]
    public async Task A_pipe_whose_reader_is_cancelled_and_writer_fails_returns_every_segment()
    {
        using SlabAllocator allocator = NewAllocator();
        var log = new ErrorLog(allocator);
        var pipe = new Pipe(Options(allocator));
        var firstRead = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        int cancelledReads = 0;

        Task writer = Task.Run(async () =>
        {
            await WriteChunksAsync(pipe.Writer, 20, 1);
            await firstRead.Task;
            pipe.Reader.CancelPendingRead();           // the reader's pending (or next) read returns IsCanceled
            await WriteChunksAsync(pipe.Writer, 20, 2);
            Memory<byte> unflushed = pipe.Writer.GetMemory(30_000);
            unflushed.Span.Fill(9);
            pipe.Writer.Advance(30_000);               // written, never flushed
            await pipe.Writer.CompleteAsync(new InvalidOperationException("writer failed"));
        });

        Task reader = Task.Run(async () =>
        {
            try
            {
                while (true)
                {
                    ReadResult result = await pipe.Reader.ReadAsync();
                    firstRead.TrySetResult();
                    if (result.IsCanceled)
                    {
                        cancelledReads++;
                    }

                    // Consume only part of what is there, so that segments stay held between reads.
                    long consume = result.Buffer.Length / 2;
                    pipe.Reader.AdvanceTo(result.Buffer.GetPosition(consume), result.Buffer.End);
                    if (result.IsCompleted)
                    {
                        break;
                    }
                }
            }
            catch (InvalidOperationException e) when (e.Message == "writer failed")
            {
                await pipe.Reader.CompleteAsync(e);
                return;
            }

            await pipe.Reader.CompleteAsync();
        });

        await writer;
        await reader;
        Assert.Equal(1, cancelledReads);
        AssertAllReturned(allocator, log);
    }

    [Fact]
    public async Task A_pipe_whose_writer_flush_is_cancelled_under_back_pressure_returns_every_segment()
    {
        using SlabAllocator allocator = NewAllocator();
        var log = new ErrorLog(allocator);
        var pipe = new Pipe(Options(allocator));
        using var cts = new CancellationTokenSource();
        var paused = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        bool cancelled = false;

        Task writer = Task.Run(async () =>
        {
            try
            {
                for (int i = 0; ; i++)
                {
                    Memory<byte> memory = pipe.Writer.GetMemory(8192);
                    memory.Span[..8192].Fill((byte)i);
                    pipe.Writer.Advance(8192);
                    ValueTask<FlushResult> flush = pipe.Writer.FlushAsync(cts.Token);
                    if (!flush.IsCompleted)
                    {
                        paused.TrySetResult();         // over the pause threshold: the reader never reads
                    }

                    await flush;
                }
            }
            catch (OperationCanceledException)
            {
                cancelled = true;
                await pipe.Writer.CompleteAsync(new OperationCanceledException("writer cancelled"));
            }
        });

        await paused.Task;
        Assert.True(Faces.Active(allocator) >= 8);     // 64 KiB of 8 KiB segments and more held by the pipe
        await cts.CancelAsync();
        await writer;
        Assert.True(cancelled);

        // A flush with a token that is already cancelled fails at once as well.
        var second = new Pipe(Options(allocator));
        second.Writer.GetMemory(100);
        second.Writer.Advance(100);
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await second.Writer.FlushAsync(cts.Token));
        await second.Writer.CompleteAsync();
        await second.Reader.CompleteAsync();

        // The reader gives up without reading: everything written comes back to the pool.
        await pipe.Reader.CompleteAsync(new InvalidOperationException("reader gave up"));
        AssertAllReturned(allocator, log);
    }

    [Fact]
    public async Task A_pipe_whose_reader_fails_mid_stream_returns_every_segment()
    {
        using SlabAllocator allocator = NewAllocator();
        var log = new ErrorLog(allocator);
        var pipe = new Pipe(Options(allocator));
        var readerGone = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

        Task reader = Task.Run(async () =>
        {
            ReadResult result = await pipe.Reader.ReadAsync();
            pipe.Reader.AdvanceTo(result.Buffer.Start, result.Buffer.End); // examined, nothing consumed
            await pipe.Reader.CompleteAsync(new InvalidOperationException("reader failed"));
            readerGone.SetResult();
        });

        Task writer = Task.Run(async () =>
        {
            try
            {
                // The reader's failure reaches the writer at its next flush: one of these if the
                // reader is quick, or the flush after the reader has gone.
                await WriteChunksAsync(pipe.Writer, 5, 3);
                await readerGone.Task;
                pipe.Writer.GetMemory(10_000).Span[..10_000].Fill(1);
                pipe.Writer.Advance(10_000);
                await pipe.Writer.FlushAsync();
                throw new InvalidOperationException("the flush succeeded");
            }
            catch (InvalidOperationException e) when (e.Message == "reader failed")
            {
                await pipe.Writer.CompleteAsync(e);
            }
        });

        await reader;
        await writer;
        AssertAllReturned(allocator, log);
    }
}
