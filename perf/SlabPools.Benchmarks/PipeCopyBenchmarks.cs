using System;
using System.Buffers;
using System.IO.Pipelines;
using System.Threading.Tasks;
using BenchmarkDotNet.Attributes;

namespace SlabPools.Benchmarks;

/// <summary>
/// Scenario 4: 64 MiB copied through a <see cref="Pipe"/> by a writer task and a reader task, with
/// writes of 4 to 16 KiB (a fixed pseudo-random mix), for each choice of
/// <see cref="PipeOptions.Pool"/>. The pipe asks its pool only for segments up to the pool's
/// <see cref="MemoryPool{T}.MaxBufferSize"/> and takes larger ones from
/// <see cref="ArrayPool{T}.Shared"/>: with Kestrel's pool (4096-byte blocks) only the smallest
/// writes reach it. Two more cases give the pipe 16 KiB segments
/// (<see cref="PipeOptions.MinimumSegmentSize"/>), as the <see cref="PipeOptions"/> that
/// <c>AddSlabPools</c> registers do (<see cref="SlabPoolsOptions.TransportBlockSize"/>): on SlabPools'
/// memory pool and, to tell the segment's effect from the pool's, on the default pool. Times and
/// allocations are per 64 MiB copy.
/// </summary>
[MemoryDiagnoser]
public class PipeCopyBenchmarks
{
    /// <summary>Bytes copied per invocation.</summary>
    public const int TotalBytes = 64 << 20;

    private const int MinWrite = 4 << 10;
    private const int MaxWrite = 16 << 10;

    private readonly byte[] _source = new byte[MaxWrite];
    private readonly byte[] _sink = new byte[MaxWrite];
    private readonly int[] _writeSizes = new int[1024];

    private SlabAllocator _allocator = null!;
    private KestrelPool _kestrel = null!;
    private Pipe _defaultPipe = null!;
    private Pipe _kestrelPipe = null!;
    private Pipe _slabPipe = null!;
    private Pipe _nativePipe = null!;
    private Pipe _defaultBlockPipe = null!;
    private Pipe _slabBlockPipe = null!;

    [GlobalSetup]
    public void Setup()
    {
        var random = new Random(20251129);
        random.NextBytes(_source);
        for (int i = 0; i < _writeSizes.Length; i++)
        {
            _writeSizes[i] = random.Next(MinWrite, MaxWrite + 1);
        }

        _allocator = new SlabAllocator(new SlabPoolsOptions());
        _kestrel = new KestrelPool();
        _defaultPipe = new Pipe(new PipeOptions(useSynchronizationContext: false));
        _kestrelPipe = new Pipe(new PipeOptions(pool: _kestrel.Pool, useSynchronizationContext: false));
        _slabPipe = new Pipe(new PipeOptions(pool: _allocator.MemoryPool, useSynchronizationContext: false));
        _nativePipe = new Pipe(new PipeOptions(pool: _allocator.NativeBufferPool, useSynchronizationContext: false));
        _defaultBlockPipe = new Pipe(new PipeOptions(minimumSegmentSize: SlabPoolsOptions.DefaultTransportBlockSize, useSynchronizationContext: false));
        _slabBlockPipe = new Pipe(new PipeOptions(pool: _allocator.MemoryPool, minimumSegmentSize: SlabPoolsOptions.DefaultTransportBlockSize, useSynchronizationContext: false));

        // One copy through each pipe before any measurement, so that even a job with a single
        // warm-up iteration measures pools that have already met every segment size.
        foreach (Pipe pipe in new[] { _defaultPipe, _kestrelPipe, _slabPipe, _nativePipe, _defaultBlockPipe, _slabBlockPipe })
        {
            CopyAsync(pipe).GetAwaiter().GetResult();
        }
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _kestrel.Dispose();
        _allocator.Dispose();
    }

    [Benchmark(Baseline = true, Description = "DefaultPool")]
    public Task DefaultPool() => CopyAsync(_defaultPipe);

    [Benchmark(Description = "KestrelPool")]
    [BenchmarkCategory(KestrelBlockSizeFilter.Category)]
    public Task KestrelMemoryPool() => CopyAsync(_kestrelPipe);

    [Benchmark(Description = "SlabMemoryPool")]
    public Task SlabMemory() => CopyAsync(_slabPipe);

    [Benchmark(Description = "NativeBufferPool")]
    public Task SlabNative() => CopyAsync(_nativePipe);

    [Benchmark(Description = "DefaultPool-16KiB")]
    public Task DefaultPoolBlocks() => CopyAsync(_defaultBlockPipe);

    [Benchmark(Description = "SlabMemoryPool-16KiB")]
    public Task SlabMemoryBlocks() => CopyAsync(_slabBlockPipe);

    private async Task CopyAsync(Pipe pipe)
    {
        Task<long> reading = Task.Run(() => ReadAllAsync(pipe.Reader));
        Task writing = Task.Run(() => WriteAllAsync(pipe.Writer));
        await writing.ConfigureAwait(false);
        long read = await reading.ConfigureAwait(false);
        if (read != TotalBytes)
        {
            throw new InvalidOperationException($"The reader got {read} bytes instead of {TotalBytes}.");
        }

        pipe.Reset();
    }

    private async Task WriteAllAsync(PipeWriter writer)
    {
        int remaining = TotalBytes;
        for (int i = 0; remaining > 0; i++)
        {
            int size = Math.Min(_writeSizes[i % _writeSizes.Length], remaining);
            _source.AsSpan(0, size).CopyTo(writer.GetSpan(size));
            writer.Advance(size);
            remaining -= size;
            FlushResult flushed = await writer.FlushAsync().ConfigureAwait(false);
            if (flushed.IsCompleted)
            {
                break;
            }
        }

        await writer.CompleteAsync().ConfigureAwait(false);
    }

    private async Task<long> ReadAllAsync(PipeReader reader)
    {
        long total = 0;
        while (true)
        {
            ReadResult result = await reader.ReadAsync().ConfigureAwait(false);
            ReadOnlySequence<byte> buffer = result.Buffer;
            foreach (ReadOnlyMemory<byte> segment in buffer)
            {
                ReadOnlySpan<byte> span = segment.Span;
                while (!span.IsEmpty)
                {
                    int n = Math.Min(span.Length, _sink.Length);
                    span[..n].CopyTo(_sink);
                    span = span[n..];
                }
            }

            total += buffer.Length;
            reader.AdvanceTo(buffer.End);
            if (result.IsCompleted)
            {
                break;
            }
        }

        await reader.CompleteAsync().ConfigureAwait(false);
        return total;
    }
}
