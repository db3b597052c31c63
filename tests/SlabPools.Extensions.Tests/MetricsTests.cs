using System;
using System.Buffers;
using System.Collections.Generic;
using System.Diagnostics.Metrics;
using System.Linq;
using System.Threading;
using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using Microsoft.Extensions.Time.Testing;
using SlabPools.Extensions.Metrics;
using Xunit;

namespace SlabPools.Extensions.Tests;

/// <summary>
/// The SlabPools meter and the Kestrel-compatible one. Collectors listen to the meters of one
/// container's meter factory, so tests running in parallel do not see each other's figures.
/// </summary>
public class MetricsTests
{
    // What a pool from the factory gives for Rent(): the default transport block.
    private const int Block = SlabPoolsOptions.DefaultTransportBlockSize;

    [Fact]
    public void SlabPools_instruments_report_each_caches_state()
    {
        using ServiceProvider services = CreateServices();
        IMeterFactory meters = services.GetRequiredService<IMeterFactory>();
        using var reserved = new MetricCollector<long>(meters, "SlabPools", "slabpools.memory.reserved");
        using var active = new MetricCollector<long>(meters, "SlabPools", "slabpools.objects.active");
        using var total = new MetricCollector<long>(meters, "SlabPools", "slabpools.objects.total");
        using var allocated = new MetricCollector<long>(meters, "SlabPools", "slabpools.slabs.allocated");
        using var freed = new MetricCollector<long>(meters, "SlabPools", "slabpools.slabs.freed");
        SlabAllocator allocator = services.GetRequiredService<SlabAllocator>();

        List<IMemoryOwner<byte>> blocks = Enumerable.Range(0, 10).Select(_ => allocator.MemoryPool.Rent()).ToList();
        blocks.Take(4).ToList().ForEach(b => b.Dispose());
        byte[] array = allocator.ArrayPool.Rent(1000);
        nint pointer = allocator.NativeBufferPool.Allocate(100);
        Collect(reserved, active, total, allocated, freed);

        foreach (SlabCacheInfo cache in allocator.GetInfo())
        {
            Assert.Equal(cache.BytesReserved, ValueFor(reserved, cache.Name));
            Assert.Equal(cache.ActiveObjects, ValueFor(active, cache.Name));
            Assert.Equal(cache.TotalObjects, ValueFor(total, cache.Name));
            Assert.Equal(cache.SlabsAllocated, ValueFor(allocated, cache.Name));
            Assert.Equal(cache.SlabsFreed, ValueFor(freed, cache.Name));
        }

        Assert.Equal(6, ValueFor(active, "pinned-4096"));
        Assert.Equal(1, ValueFor(active, "kmalloc-104"));
        Assert.True(ValueFor(reserved, "pinned-4096") >= 10 * 4096);
        Assert.Equal("pinned", reserved.GetMeasurementSnapshot().Last(m => Equals(m.Tags["slabpools.cache.name"], "pinned-4096")).Tags["slabpools.memory.type"]);
        Assert.Equal("managed", reserved.GetMeasurementSnapshot().Single(m => Equals(m.Tags["slabpools.cache.name"], "array-1024")).Tags["slabpools.memory.type"]);
        Assert.Equal("By", reserved.Instrument!.Unit);

        // After the rest is given back and the caches shrink, freed slabs show and nothing is active.
        blocks.Skip(4).ToList().ForEach(b => b.Dispose());
        allocator.ArrayPool.Return(array);
        allocator.NativeBufferPool.Free(pointer);
        allocator.Shrink();
        reserved.Clear();
        active.Clear();
        freed.Clear();
        Collect(reserved, active, freed);

        Assert.Equal(0, ValueFor(active, "pinned-4096"));
        Assert.Equal(0, ValueFor(reserved, "pinned-4096"));
        Assert.Equal(allocator.GetInfo().Single(c => c.Name == "pinned-4096").SlabsAllocated, ValueFor(freed, "pinned-4096"));
    }

    [Fact]
    public void The_collections_counter_counts_what_the_allocator_asked_of_the_gc_with_its_mode()
    {
        var time = new FakeTimeProvider();
        using ServiceProvider services = new ServiceCollection()
            .AddMetrics()
            .AddSingleton<TimeProvider>(time)
            .AddSlabPools(o => o.CollectAfterRelease = 1L << 20)
            .BuildServiceProvider();
        using var collections = new MetricCollector<long>(services.GetRequiredService<IMeterFactory>(), "SlabPools", "slabpools.gc.collections");
        SlabAllocator allocator = services.GetRequiredService<SlabAllocator>();
        collections.RecordObservableInstruments();
        Assert.Equal(0, collections.LastMeasurement!.Value);

        // 4 MiB of pinned slabs rented, returned, and released by the flusher's idle tick: one
        // (background) collection asked for.
        List<IMemoryOwner<byte>> blocks = Enumerable.Range(0, 1_000).Select(_ => allocator.MemoryPool.Rent()).ToList();
        blocks.ForEach(b => b.Dispose());
        time.Advance(SlabPoolsOptions.DefaultFlushInterval);
        time.Advance(SlabPoolsOptions.DefaultFlushInterval);
        collections.RecordObservableInstruments();

        Assert.Equal(1, collections.LastMeasurement!.Value);
        Assert.Equal("Background", collections.LastMeasurement.Tags["slabpools.collection.mode"]);
        Assert.Equal("{collection}", collections.Instrument!.Unit);
    }

    [Fact]
    public void The_errors_counter_counts_a_double_free_with_its_kind_and_cache()
    {
        using ServiceProvider services = CreateServices();
        using var errors = new MetricCollector<long>(services.GetRequiredService<IMeterFactory>(), "SlabPools", "slabpools.errors");
        SlabAllocator allocator = services.GetRequiredService<SlabAllocator>();

        IMemoryOwner<byte> owner = allocator.MemoryPool.Rent(100);
        owner.Dispose();
        owner.Dispose();

        CollectedMeasurement<long> error = Assert.Single(errors.GetMeasurementSnapshot());
        Assert.Equal(1, error.Value);
        Assert.Equal("DoubleFree", error.Tags["error.type"]);
        Assert.Equal("pinned-104", error.Tags["slabpools.cache.name"]);
        Assert.Equal(1, allocator.ErrorCount(SlabErrorKind.DoubleFree));
    }

    [Fact]
    public void Kestrel_compatible_instruments_report_nothing_until_a_pool_is_created()
    {
        using ServiceProvider services = CreateServices();
        using var rented = new MetricCollector<long>(services.GetRequiredService<IMeterFactory>(), "Microsoft.AspNetCore.MemoryPool", "aspnetcore.memory_pool.rented");
        services.GetRequiredService<MemoryPool<byte>>().Rent().Dispose();

        rented.RecordObservableInstruments();

        Assert.Empty(rented.GetMeasurementSnapshot());
    }

    [Fact]
    public void Kestrel_compatible_instruments_have_kestrels_names_units_and_meanings_and_the_owner_tag()
    {
        using ServiceProvider services = CreateServices();
        IMeterFactory meters = services.GetRequiredService<IMeterFactory>();
        using var pooled = new MetricCollector<long>(meters, "Microsoft.AspNetCore.MemoryPool", "aspnetcore.memory_pool.pooled");
        using var allocated = new MetricCollector<long>(meters, "Microsoft.AspNetCore.MemoryPool", "aspnetcore.memory_pool.allocated");
        using var evicted = new MetricCollector<long>(meters, "Microsoft.AspNetCore.MemoryPool", "aspnetcore.memory_pool.evicted");
        using var rented = new MetricCollector<long>(meters, "Microsoft.AspNetCore.MemoryPool", "aspnetcore.memory_pool.rented");
        SlabAllocator allocator = services.GetRequiredService<SlabAllocator>();
        MemoryPool<byte> kestrel = services.GetRequiredService<IMemoryPoolFactory<byte>>().Create(new MemoryPoolOptions { Owner = "kestrel" });

        List<IMemoryOwner<byte>> blocks = Enumerable.Range(0, 10).Select(_ => kestrel.Rent()).ToList();
        blocks.Take(4).ToList().ForEach(b => b.Dispose());
        Collect(pooled, allocated, evicted, rented);

        SlabCacheInfo cache = allocator.GetInfo().Single(c => c.Name == "pinned-16384");
        long slabBytes = cache.BytesReserved / cache.Slabs;
        Assert.Equal((cache.TotalObjects - 6) * Block, OwnedValue(pooled, "kestrel"));
        Assert.Equal(cache.SlabsAllocated * slabBytes, OwnedValue(allocated, "kestrel"));
        Assert.Equal(0, OwnedValue(evicted, "kestrel"));
        Assert.Equal(10 * Block, OwnedValue(rented, "kestrel"));
        Assert.Equal("By", pooled.Instrument!.Unit);
        Assert.IsAssignableFrom<ObservableUpDownCounter<long>>(pooled.Instrument);
        Assert.IsAssignableFrom<ObservableCounter<long>>(allocated.Instrument);
        Assert.IsAssignableFrom<ObservableCounter<long>>(evicted.Instrument);
        Assert.IsAssignableFrom<ObservableCounter<long>>(rented.Instrument);

        // Everything back and released: evicted catches up with allocated, nothing is pooled, rented stays.
        blocks.Skip(4).ToList().ForEach(b => b.Dispose());
        allocator.Shrink();
        Collect(pooled, allocated, evicted, rented);
        Assert.Equal(0, OwnedValue(pooled, "kestrel"));
        Assert.Equal(OwnedValue(allocated, "kestrel"), OwnedValue(evicted, "kestrel"));
        Assert.Equal(10 * Block, OwnedValue(rented, "kestrel"));
    }

    [Fact]
    public void Rented_bytes_do_not_go_down_when_a_renting_thread_exits_and_its_per_thread_cache_is_dropped()
    {
        using ServiceProvider services = CreateServices();
        using var rented = new MetricCollector<long>(services.GetRequiredService<IMeterFactory>(), "Microsoft.AspNetCore.MemoryPool", "aspnetcore.memory_pool.rented");
        SlabAllocator allocator = services.GetRequiredService<SlabAllocator>();
        MemoryPool<byte> pool = services.GetRequiredService<IMemoryPoolFactory<byte>>().Create(new MemoryPoolOptions { Owner = "kestrel" });
        var worker = new Thread(() =>
        {
            for (int i = 0; i < 10; i++)
            {
                pool.Rent().Dispose();
            }
        });
        worker.Start();
        Assert.True(worker.Join(TimeSpan.FromSeconds(30)));
        rented.RecordObservableInstruments();
        Assert.Equal(10 * Block, OwnedValue(rented, "kestrel"));

        // The shrink drains and drops the exited thread's magazine; today the cache's allocation
        // count drops with it (its counts are not kept), and the rented total must not.
        allocator.Shrink();
        rented.RecordObservableInstruments();
        Assert.Equal(10 * Block, OwnedValue(rented, "kestrel"));

        pool.Rent().Dispose();
        rented.RecordObservableInstruments();
        Assert.Equal(11 * Block, OwnedValue(rented, "kestrel"));
    }

    [Fact]
    public void Several_owners_are_named_in_one_tag()
    {
        using ServiceProvider services = CreateServices();
        using var rented = new MetricCollector<long>(services.GetRequiredService<IMeterFactory>(), "Microsoft.AspNetCore.MemoryPool", "aspnetcore.memory_pool.rented");
        IMemoryPoolFactory<byte> factory = services.GetRequiredService<IMemoryPoolFactory<byte>>();
        factory.Create(new MemoryPoolOptions { Owner = "kestrel" }).Rent().Dispose();
        factory.Create(new MemoryPoolOptions { Owner = "broker" }).Rent(8192).Dispose();

        rented.RecordObservableInstruments();

        Assert.Equal(2 * Block, OwnedValue(rented, "kestrel,broker")); // 8192 is within the block
    }

    [Fact]
    public void Without_a_meter_factory_the_meters_are_made_and_disposed_by_SlabPools()
    {
        ServiceProvider services = new ServiceCollection().AddSlabPools().BuildServiceProvider();
        SlabPoolsRuntime runtime = services.GetRequiredService<SlabPoolsRuntime>();
        using var reserved = new MetricCollector<long>(runtime.Metrics.Meter, "slabpools.memory.reserved");
        using var rented = new MetricCollector<long>(runtime.MemoryPoolMetrics.Meter, "aspnetcore.memory_pool.rented");
        services.GetRequiredService<IMemoryPoolFactory<byte>>().Create(new MemoryPoolOptions { Owner = "kestrel" }).Rent().Dispose();
        Collect(reserved, rented);
        Assert.Equal(KestrelMemoryPoolMetrics.MeterVersion, runtime.MemoryPoolMetrics.Meter.Version);
        Assert.Equal(Block, OwnedValue(rented, "kestrel"));
        Assert.NotEmpty(reserved.GetMeasurementSnapshot());

        services.Dispose();

        // A disposed meter's instruments are unpublished: nothing more is collected.
        reserved.Clear();
        reserved.RecordObservableInstruments();
        Assert.Empty(reserved.GetMeasurementSnapshot());
    }

    private static ServiceProvider CreateServices() =>
        new ServiceCollection()
            .AddMetrics()
            .AddSingleton<TimeProvider>(new FakeTimeProvider())
            .AddSlabPools()
            .BuildServiceProvider();

    private static void Collect(params MetricCollector<long>[] collectors)
    {
        foreach (MetricCollector<long> collector in collectors)
        {
            collector.RecordObservableInstruments();
        }
    }

    /// <summary>The last value reported for one cache.</summary>
    private static long ValueFor(MetricCollector<long> collector, string cacheName) =>
        collector.GetMeasurementSnapshot().Last(m => Equals(m.Tags["slabpools.cache.name"], cacheName)).Value;

    /// <summary>The last value reported, checking its owner tag.</summary>
    private static long OwnedValue(MetricCollector<long> collector, string owner)
    {
        CollectedMeasurement<long> last = collector.LastMeasurement!;
        Assert.Equal(owner, last.Tags["aspnetcore.memory_pool.owner"]);
        return last.Value;
    }
}
