using System.Buffers;
using BenchmarkDotNet.Attributes;
using SlabPools.Pools;

namespace SlabPools.Benchmarks;

/// <summary>
/// Scenario 3: buffers of 4096 bytes rented on the benchmark thread and returned on another (a
/// dedicated <see cref="ReturnThread{T}"/> fed through a ring of <see cref="RingCapacity"/>
/// slots), as when a socket's receive loop rents and a request handler returns. Times are per
/// buffer, from the first rent of a batch until the last buffer of the batch is back in its pool.
/// </summary>
[MemoryDiagnoser]
public class CrossThreadBenchmarks
{
    /// <summary>Buffers per invocation.</summary>
    public const int BuffersPerInvoke = 4096;

    /// <summary>Buffers in flight at most.</summary>
    public const int RingCapacity = 256;

    private const int Size = 4096;

    private SlabAllocator? _allocator;
    private KestrelPool? _kestrel;
    private ReturnThread<byte[]>? _arrays;
    private ReturnThread<IMemoryOwner<byte>>? _owners;
    private SlabArrayPool _slabArrays = null!;
    private SlabMemoryPool _slabMemory = null!;
    private NativeBufferPool _slabNative = null!;

    [GlobalSetup(Target = nameof(SharedArrayPool))]
    public void SetupSharedArrayPool() =>
        _arrays = new ReturnThread<byte[]>("ArrayPool.Shared returns", RingCapacity, static array => ArrayPool<byte>.Shared.Return(array));

    [GlobalSetup(Target = nameof(SlabArrays))]
    public void SetupSlabArrays()
    {
        _allocator = new SlabAllocator(new SlabPoolsOptions());
        SlabArrayPool pool = _slabArrays = _allocator.ArrayPool;
        _arrays = new ReturnThread<byte[]>("Slab ArrayPool returns", RingCapacity, array => pool.Return(array));
    }

    [GlobalSetup(Targets = [nameof(SharedMemoryPool), nameof(KestrelMemoryPool), nameof(SlabMemory), nameof(SlabNative)])]
    public void SetupMemoryPools()
    {
        _allocator = new SlabAllocator(new SlabPoolsOptions());
        _slabMemory = _allocator.MemoryPool;
        _slabNative = _allocator.NativeBufferPool;
        _kestrel = new KestrelPool();
        _owners = new ReturnThread<IMemoryOwner<byte>>("owner disposals", RingCapacity, static owner => owner.Dispose());
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        // The return threads first: they still give buffers back to the pools.
        _arrays?.Dispose();
        _owners?.Dispose();
        _kestrel?.Dispose();
        _allocator?.Dispose();
    }

    [Benchmark(Baseline = true, Description = "ArrayPool.Shared", OperationsPerInvoke = BuffersPerInvoke)]
    public void SharedArrayPool()
    {
        ReturnThread<byte[]> consumer = _arrays!;
        consumer.BeginBatch();
        for (int i = 0; i < BuffersPerInvoke; i++)
        {
            consumer.Send(ArrayPool<byte>.Shared.Rent(Size));
        }

        consumer.WaitUntilDrained();
    }

    [Benchmark(Description = "MemoryPool.Shared", OperationsPerInvoke = BuffersPerInvoke)]
    public void SharedMemoryPool()
    {
        ReturnThread<IMemoryOwner<byte>> consumer = _owners!;
        consumer.BeginBatch();
        for (int i = 0; i < BuffersPerInvoke; i++)
        {
            consumer.Send(MemoryPool<byte>.Shared.Rent(Size));
        }

        consumer.WaitUntilDrained();
    }

    [Benchmark(Description = "KestrelPool", OperationsPerInvoke = BuffersPerInvoke)]
    [BenchmarkCategory(KestrelBlockSizeFilter.Category)]
    public void KestrelMemoryPool()
    {
        ReturnThread<IMemoryOwner<byte>> consumer = _owners!;
        MemoryPool<byte> pool = _kestrel!.Pool;
        consumer.BeginBatch();
        for (int i = 0; i < BuffersPerInvoke; i++)
        {
            consumer.Send(pool.Rent(Size));
        }

        consumer.WaitUntilDrained();
    }

    [Benchmark(Description = "SlabArrayPool", OperationsPerInvoke = BuffersPerInvoke)]
    public void SlabArrays()
    {
        ReturnThread<byte[]> consumer = _arrays!;
        SlabArrayPool pool = _slabArrays;
        consumer.BeginBatch();
        for (int i = 0; i < BuffersPerInvoke; i++)
        {
            consumer.Send(pool.Rent(Size));
        }

        consumer.WaitUntilDrained();
    }

    [Benchmark(Description = "SlabMemoryPool", OperationsPerInvoke = BuffersPerInvoke)]
    public void SlabMemory()
    {
        ReturnThread<IMemoryOwner<byte>> consumer = _owners!;
        SlabMemoryPool pool = _slabMemory;
        consumer.BeginBatch();
        for (int i = 0; i < BuffersPerInvoke; i++)
        {
            consumer.Send(pool.Rent(Size));
        }

        consumer.WaitUntilDrained();
    }

    [Benchmark(Description = "NativeBufferPool", OperationsPerInvoke = BuffersPerInvoke)]
    public void SlabNative()
    {
        ReturnThread<IMemoryOwner<byte>> consumer = _owners!;
        NativeBufferPool pool = _slabNative;
        consumer.BeginBatch();
        for (int i = 0; i < BuffersPerInvoke; i++)
        {
            consumer.Send(pool.Rent(Size));
        }

        consumer.WaitUntilDrained();
    }
}
