using System.Buffers;
using System.Runtime.InteropServices;
using BenchmarkDotNet.Attributes;
using SlabPools.Pools;

namespace SlabPools.Benchmarks;

/// <summary>
/// Scenario 2: bursts. One thread rents <see cref="Burst"/> buffers of 4096 bytes, then returns
/// them all; this repeats until <see cref="BuffersPerInvoke"/> buffers have gone round, so times
/// and allocated bytes are per buffer. A pool that holds fewer free buffers than the burst falls
/// back to the GC heap, which shows in the Allocated column.
/// </summary>
[MemoryDiagnoser]
public unsafe class BurstBenchmarks
{
    /// <summary>Buffers rented and returned per invocation (a multiple of every burst size).</summary>
    public const int BuffersPerInvoke = 512;

    private const int Size = 4096;

    private readonly byte[][] _arrays = new byte[BuffersPerInvoke][];
    private readonly IMemoryOwner<byte>[] _owners = new IMemoryOwner<byte>[BuffersPerInvoke];
    private readonly SlabMemoryOwner[] _slabOwners = new SlabMemoryOwner[BuffersPerInvoke];
    private readonly nint[] _pointers = new nint[BuffersPerInvoke];

    private SlabAllocator _allocator = null!;
    private SlabArrayPool _slabArrays = null!;
    private SlabMemoryPool _slabMemory = null!;
    private NativeBufferPool _slabNative = null!;
    private ArrayPool<byte> _createdPool = null!;
    private KestrelPool _kestrel = null!;

    /// <summary>Buffers held at once.</summary>
    [Params(64, 512)]
    public int Burst { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _allocator = new SlabAllocator(new SlabPoolsOptions());
        _slabArrays = _allocator.ArrayPool;
        _slabMemory = _allocator.MemoryPool;
        _slabNative = _allocator.NativeBufferPool;
        _createdPool = ArrayPool<byte>.Create();
        _kestrel = new KestrelPool();
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _kestrel.Dispose();
        _allocator.Dispose();
    }

    [Benchmark(Baseline = true, Description = "ArrayPool.Shared", OperationsPerInvoke = BuffersPerInvoke)]
    public void SharedArrayPool()
    {
        byte[][] arrays = _arrays;
        for (int done = 0; done < BuffersPerInvoke; done += Burst)
        {
            for (int i = 0; i < Burst; i++)
            {
                arrays[i] = ArrayPool<byte>.Shared.Rent(Size);
            }

            for (int i = 0; i < Burst; i++)
            {
                ArrayPool<byte>.Shared.Return(arrays[i]);
            }
        }
    }

    [Benchmark(Description = "ArrayPool.Create", OperationsPerInvoke = BuffersPerInvoke)]
    public void CreatedArrayPool() => RentAndReturnArrays(_createdPool);

    [Benchmark(Description = "MemoryPool.Shared", OperationsPerInvoke = BuffersPerInvoke)]
    public void SharedMemoryPool()
    {
        IMemoryOwner<byte>[] owners = _owners;
        for (int done = 0; done < BuffersPerInvoke; done += Burst)
        {
            for (int i = 0; i < Burst; i++)
            {
                owners[i] = MemoryPool<byte>.Shared.Rent(Size);
            }

            for (int i = 0; i < Burst; i++)
            {
                owners[i].Dispose();
            }
        }
    }

    [Benchmark(Description = "KestrelPool", OperationsPerInvoke = BuffersPerInvoke)]
    [BenchmarkCategory(KestrelBlockSizeFilter.Category)]
    public void KestrelMemoryPool() => RentAndDisposeOwners(_kestrel.Pool);

    [Benchmark(Description = "NewArray", OperationsPerInvoke = BuffersPerInvoke)]
    public void NewArray()
    {
        byte[][] arrays = _arrays;
        for (int done = 0; done < BuffersPerInvoke; done += Burst)
        {
            for (int i = 0; i < Burst; i++)
            {
                arrays[i] = new byte[Size];
            }
        }
    }

    [Benchmark(Description = "NativeMemory.Alloc", OperationsPerInvoke = BuffersPerInvoke)]
    public void NativeMemoryAlloc()
    {
        nint[] pointers = _pointers;
        for (int done = 0; done < BuffersPerInvoke; done += Burst)
        {
            for (int i = 0; i < Burst; i++)
            {
                pointers[i] = (nint)NativeMemory.Alloc(Size);
            }

            for (int i = 0; i < Burst; i++)
            {
                NativeMemory.Free((void*)pointers[i]);
            }
        }
    }

    [Benchmark(Description = "SlabArrayPool", OperationsPerInvoke = BuffersPerInvoke)]
    public void SlabArrays()
    {
        SlabArrayPool pool = _slabArrays;
        byte[][] arrays = _arrays;
        for (int done = 0; done < BuffersPerInvoke; done += Burst)
        {
            for (int i = 0; i < Burst; i++)
            {
                arrays[i] = pool.Rent(Size);
            }

            for (int i = 0; i < Burst; i++)
            {
                pool.Return(arrays[i]);
            }
        }
    }

    [Benchmark(Description = "SlabMemoryPool", OperationsPerInvoke = BuffersPerInvoke)]
    public void SlabMemory()
    {
        SlabMemoryPool pool = _slabMemory;
        IMemoryOwner<byte>[] owners = _owners;
        for (int done = 0; done < BuffersPerInvoke; done += Burst)
        {
            for (int i = 0; i < Burst; i++)
            {
                owners[i] = pool.Rent(Size);
            }

            for (int i = 0; i < Burst; i++)
            {
                owners[i].Dispose();
            }
        }
    }

    [Benchmark(Description = "SlabMemoryPool.RentOwner", OperationsPerInvoke = BuffersPerInvoke)]
    public void SlabMemoryTyped()
    {
        SlabMemoryPool pool = _slabMemory;
        SlabMemoryOwner[] owners = _slabOwners;
        for (int done = 0; done < BuffersPerInvoke; done += Burst)
        {
            for (int i = 0; i < Burst; i++)
            {
                owners[i] = pool.RentOwner(Size);
            }

            for (int i = 0; i < Burst; i++)
            {
                owners[i].Dispose();
            }
        }
    }

    [Benchmark(Description = "NativeBufferPool", OperationsPerInvoke = BuffersPerInvoke)]
    public void SlabNative()
    {
        NativeBufferPool pool = _slabNative;
        IMemoryOwner<byte>[] owners = _owners;
        for (int done = 0; done < BuffersPerInvoke; done += Burst)
        {
            for (int i = 0; i < Burst; i++)
            {
                owners[i] = pool.Rent(Size);
            }

            for (int i = 0; i < Burst; i++)
            {
                owners[i].Dispose();
            }
        }
    }

    [Benchmark(Description = "NativeBufferPool.Allocate", OperationsPerInvoke = BuffersPerInvoke)]
    public void SlabPointer()
    {
        NativeBufferPool pool = _slabNative;
        nint[] pointers = _pointers;
        for (int done = 0; done < BuffersPerInvoke; done += Burst)
        {
            for (int i = 0; i < Burst; i++)
            {
                pointers[i] = pool.Allocate(Size);
            }

            for (int i = 0; i < Burst; i++)
            {
                pool.Free(pointers[i]);
            }
        }
    }

    // For pools whose concrete type is not visible here (calls are virtual whatever the caller does).
    private void RentAndReturnArrays(ArrayPool<byte> pool)
    {
        byte[][] arrays = _arrays;
        for (int done = 0; done < BuffersPerInvoke; done += Burst)
        {
            for (int i = 0; i < Burst; i++)
            {
                arrays[i] = pool.Rent(Size);
            }

            for (int i = 0; i < Burst; i++)
            {
                pool.Return(arrays[i]);
            }
        }
    }

    private void RentAndDisposeOwners(MemoryPool<byte> pool)
    {
        IMemoryOwner<byte>[] owners = _owners;
        for (int done = 0; done < BuffersPerInvoke; done += Burst)
        {
            for (int i = 0; i < Burst; i++)
            {
                owners[i] = pool.Rent(Size);
            }

            for (int i = 0; i < Burst; i++)
            {
                owners[i].Dispose();
            }
        }
    }
}
