using System.Buffers;
using System.Runtime.InteropServices;
using BenchmarkDotNet.Attributes;
using SlabPools.Pools;

namespace SlabPools.Benchmarks;

/// <summary>
/// Scenario 1: one thread rents a buffer and gives it straight back, the hot path of every pool.
/// Sizes: a small object, a size between two powers of two, Kestrel's block, one byte past it
/// (the next power of two for <see cref="ArrayPool{T}.Shared"/>, the next eighth for SlabPools) and
/// a size past 64 KiB.
/// </summary>
/// <remarks>
/// Each case runs in its own process, minutes after the last; on a machine whose speed moves for
/// seconds at a time (a shared VM) two cases of a ratio can be measured in different phases. For
/// decisions read perf/interleaved.sh (the same scenario, every pool interleaved in one process)
/// and perf/ab.sh (a change against its baseline, in one process).
/// </remarks>
[MemoryDiagnoser]
public unsafe class RentReturnBenchmarks
{
    private SlabAllocator _allocator = null!;
    private SlabArrayPool _slabArrays = null!;
    private SlabMemoryPool _slabMemory = null!;
    private NativeBufferPool _slabNative = null!;
    private SlabCache _kmalloc = null!;
    private ArrayPool<byte> _createdPool = null!;
    private KestrelPool _kestrel = null!;

    /// <summary>Bytes asked for.</summary>
    [Params(64, 3000, 4096, 4097, 70000)]
    public int Size { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _allocator = new SlabAllocator(new SlabPoolsOptions());
        _slabArrays = _allocator.ArrayPool;
        _slabMemory = _allocator.MemoryPool;
        _slabNative = _allocator.NativeBufferPool;
        _kmalloc = _allocator.GetKmallocCache(Size);
        _createdPool = ArrayPool<byte>.Create();
        _kestrel = new KestrelPool();
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _kestrel.Dispose();
        _allocator.Dispose();
    }

    [Benchmark(Baseline = true, Description = "ArrayPool.Shared")]
    public void SharedArrayPool()
    {
        byte[] array = ArrayPool<byte>.Shared.Rent(Size);
        ArrayPool<byte>.Shared.Return(array);
    }

    [Benchmark(Description = "ArrayPool.Create")]
    public void CreatedArrayPool()
    {
        byte[] array = _createdPool.Rent(Size);
        _createdPool.Return(array);
    }

    [Benchmark(Description = "MemoryPool.Shared")]
    public void SharedMemoryPool()
    {
        using IMemoryOwner<byte> owner = MemoryPool<byte>.Shared.Rent(Size);
    }

    [Benchmark(Description = "KestrelPool")]
    [BenchmarkCategory(KestrelBlockSizeFilter.Category)]
    public void KestrelMemoryPool()
    {
        using IMemoryOwner<byte> owner = _kestrel.Pool.Rent(Size);
    }

    [Benchmark(Description = "NewArray")]
    public byte[] NewArray() => new byte[Size];

    [Benchmark(Description = "NativeMemory.Alloc")]
    public void NativeMemoryAlloc()
    {
        void* pointer = NativeMemory.Alloc((nuint)Size);
        NativeMemory.Free(pointer);
    }

    [Benchmark(Description = "SlabArrayPool")]
    public void SlabArrays()
    {
        byte[] array = _slabArrays.Rent(Size);
        _slabArrays.Return(array);
    }

    [Benchmark(Description = "SlabMemoryPool")]
    public void SlabMemory()
    {
        using IMemoryOwner<byte> owner = _slabMemory.Rent(Size);
    }

    [Benchmark(Description = "SlabMemoryPool.RentOwner")]
    public void SlabMemoryTyped()
    {
        using SlabMemoryOwner owner = _slabMemory.RentOwner(Size);
    }

    [Benchmark(Description = "NativeBufferPool")]
    public void SlabNative()
    {
        using IMemoryOwner<byte> owner = _slabNative.Rent(Size);
    }

    [Benchmark(Description = "NativeBufferPool.Allocate")]
    public void SlabPointer()
    {
        nint pointer = _slabNative.Allocate(Size);
        _slabNative.Free(pointer);
    }

    [Benchmark(Description = "SlabCache.Allocate")]
    public void SlabKmalloc()
    {
        nint pointer = _kmalloc.Allocate();
        _kmalloc.Free(pointer);
    }
}
