using System.Buffers;
using BenchmarkDotNet.Attributes;

namespace SlabPools.Benchmarks;

/// <summary>
/// What each derived allocator and option costs: one allocation and one free of a 256-byte object
/// (a 4096-byte buffer for ClearOnReturn) on a plain cache against caches derived from it. Debug
/// and derived caches leave the lock-free fast path, so the ratios show the price of each feature.
/// </summary>
[MemoryDiagnoser]
public class DerivedCostBenchmarks
{
    private SlabAllocator _plain = null!;
    private SlabAllocator _consistency = null!;
    private SlabAllocator _poison = null!;
    private SlabAllocator _redZone = null!;
    private SlabAllocator _track = null!;
    private SlabAllocator _clearing = null!;
    private SlabCache _plainCache = null!;
    private SlabCache _constructorCache = null!;
    private SlabCache _rcuCache = null!;
    private SlabCache _consistencyCache = null!;
    private SlabCache _poisonCache = null!;
    private SlabCache _redZoneCache = null!;
    private SlabCache _trackCache = null!;
    private MemoryPool<byte> _plainMemory = null!;
    private MemoryPool<byte> _clearingMemory = null!;

    [GlobalSetup]
    public void Setup()
    {
        _plain = new SlabAllocator();
        _consistency = new SlabAllocator(new SlabPoolsOptions { Debug = SlabDebugFlags.ConsistencyChecks });
        _poison = new SlabAllocator(new SlabPoolsOptions { Debug = SlabDebugFlags.Poison });
        _redZone = new SlabAllocator(new SlabPoolsOptions { Debug = SlabDebugFlags.RedZone });
        _track = new SlabAllocator(new SlabPoolsOptions { Debug = SlabDebugFlags.Track });
        _clearing = new SlabAllocator(new SlabPoolsOptions { ClearOnReturn = true });
        var plain = new SlabCacheOptions { AllowMerge = false };
        _plainCache = _plain.CreateCache("plain", 256, plain);
        _constructorCache = _plain.CreateCache("ctor", 256, new SlabCacheOptions { Constructor = static _ => { } });
        _rcuCache = _plain.CreateCache("rcu", 256, new SlabCacheOptions { TypesafeByRcu = true });
        _consistencyCache = _consistency.CreateCache("checks", 256, plain);
        _poisonCache = _poison.CreateCache("poison", 256, plain);
        _redZoneCache = _redZone.CreateCache("redzone", 256, plain);
        _trackCache = _track.CreateCache("track", 256, plain);
        _plainMemory = _plain.MemoryPool;
        _clearingMemory = _clearing.MemoryPool;
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        foreach (SlabAllocator a in new[] { _plain, _consistency, _poison, _redZone, _track, _clearing })
        {
            a.Dispose();
        }
    }

    [Benchmark(Baseline = true, Description = "plain cache")]
    public void Plain() => _plainCache.Free(_plainCache.Allocate());

    [Benchmark(Description = "constructor/destructor")]
    public void Constructor() => _constructorCache.Free(_constructorCache.Allocate());

    [Benchmark(Description = "RCU (typesafe by RCU)")]
    public void Rcu() => _rcuCache.Free(_rcuCache.Allocate());

    [Benchmark(Description = "Debug=ConsistencyChecks")]
    public void Consistency() => _consistencyCache.Free(_consistencyCache.Allocate());

    [Benchmark(Description = "Debug=Poison")]
    public void Poison() => _poisonCache.Free(_poisonCache.Allocate());

    [Benchmark(Description = "Debug=RedZone")]
    public void RedZone() => _redZoneCache.Free(_redZoneCache.Allocate());

    [Benchmark(Description = "Debug=Track")]
    public void Track() => _trackCache.Free(_trackCache.Allocate());

    [Benchmark(Description = "MemoryPool 4096, plain")]
    public void MemoryPlain() => _plainMemory.Rent(4096).Dispose();

    [Benchmark(Description = "MemoryPool 4096, ClearOnReturn")]
    public void MemoryClearing() => _clearingMemory.Rent(4096).Dispose();
}
