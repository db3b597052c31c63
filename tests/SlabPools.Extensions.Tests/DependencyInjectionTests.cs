using System;
using System.Buffers;
using System.IO.Pipelines;
using System.Linq;
using System.Threading.Tasks;
using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using SlabPools.Pools;
using Xunit;

namespace SlabPools.Extensions.Tests;

public class DependencyInjectionTests
{
    [Fact]
    public void Every_contract_service_resolves_to_the_one_allocators_pools()
    {
        using ServiceProvider services = new ServiceCollection().AddSlabPools().BuildServiceProvider(validateScopes: true);

        SlabAllocator allocator = services.GetRequiredService<SlabAllocator>();
        Assert.Same(allocator.ArrayPool, services.GetRequiredService<ArrayPool<byte>>());
        Assert.Same(allocator.MemoryPool, services.GetRequiredService<MemoryPool<byte>>());
        Assert.Same(allocator.NativeBufferPool, services.GetRequiredService<NativeBufferPool>());

        IMemoryPoolFactory<byte> factory = services.GetRequiredService<IMemoryPoolFactory<byte>>();
        SlabMemoryPoolFactory slabFactory = Assert.IsType<SlabMemoryPoolFactory>(factory);
        Assert.Same(slabFactory, services.GetRequiredService<SlabMemoryPoolFactory>());
        Assert.Same(allocator, slabFactory.Allocator);

        PipeOptions pipeOptions = services.GetRequiredService<PipeOptions>();
        Assert.Same(allocator.MemoryPool, pipeOptions.Pool);
        Assert.Equal(16384, pipeOptions.MinimumSegmentSize);
        Assert.Equal(PipeOptions.Default.PauseWriterThreshold, pipeOptions.PauseWriterThreshold);
        Assert.Equal(PipeOptions.Default.ResumeWriterThreshold, pipeOptions.ResumeWriterThreshold);

        // Singletons: a second resolution gives the same objects.
        Assert.Same(allocator, services.GetRequiredService<SlabAllocator>());
        Assert.Same(pipeOptions, services.GetRequiredService<PipeOptions>());
    }

    [Fact]
    public void The_transport_block_size_sets_the_factorys_blocks_and_the_pipes_segments()
    {
        using ServiceProvider services = new ServiceCollection().AddSlabPools(o => o.TransportBlockSize = 4096).BuildServiceProvider();

        SlabMemoryPoolFactory factory = services.GetRequiredService<SlabMemoryPoolFactory>();
        using MemoryPool<byte> pool = factory.Create();
        using IMemoryOwner<byte> block = pool.Rent();

        Assert.Equal(4096, factory.BlockSize);
        Assert.Equal(4096, block.Memory.Length);
        Assert.Equal(4096, services.GetRequiredService<PipeOptions>().MinimumSegmentSize);
    }

    [Fact]
    public void The_pools_from_the_container_work()
    {
        using ServiceProvider services = new ServiceCollection().AddSlabPools().BuildServiceProvider();

        byte[] array = services.GetRequiredService<ArrayPool<byte>>().Rent(100);
        Assert.Equal(104, array.Length);
        services.GetRequiredService<ArrayPool<byte>>().Return(array);

        using (IMemoryOwner<byte> owner = services.GetRequiredService<MemoryPool<byte>>().Rent(0))
        {
            Assert.Equal(4096, owner.Memory.Length);
        }

        SlabAllocator allocator = services.GetRequiredService<SlabAllocator>();
        Assert.Contains(allocator.GetInfo(), c => c.Name == "array-104" && c.Memory == "managed");
        Assert.Contains(allocator.GetInfo(), c => c.Name == "pinned-4096" && c.Memory == "pinned" && c.ActiveObjects == 0);
    }

    [Fact]
    public void Calling_AddSlabPools_twice_registers_each_service_once_and_applies_both_callbacks()
    {
        var collection = new ServiceCollection();
        collection.AddSlabPools(o => o.FlushInterval = TimeSpan.FromSeconds(3));
        int countAfterFirst = collection.Count;
        collection.AddSlabPools(o => o.ThrowOnError = true);

        // Only the second callback was added.
        Assert.Equal(countAfterFirst + 1, collection.Count);
        foreach (Type type in new[] { typeof(SlabAllocator), typeof(ArrayPool<byte>), typeof(MemoryPool<byte>), typeof(NativeBufferPool), typeof(IMemoryPoolFactory<byte>), typeof(SlabMemoryPoolFactory), typeof(PipeOptions), typeof(IValidateOptions<SlabPoolsOptions>) })
        {
            Assert.Single(collection, d => d.ServiceType == type);
        }

        using ServiceProvider services = collection.BuildServiceProvider();
        SlabAllocator allocator = services.GetRequiredService<SlabAllocator>();
        Assert.Equal(TimeSpan.FromSeconds(3), allocator.Options.FlushInterval);
        Assert.True(allocator.Options.ThrowOnError);
        Assert.Single(services.GetServices<SlabAllocator>());
    }

    [Fact]
    public void The_configure_callback_applies()
    {
        using ServiceProvider services = new ServiceCollection()
            .AddSlabPools(o =>
            {
                o.FlushInterval = TimeSpan.FromMilliseconds(2500);
                o.Debug = SlabDebugFlags.Poison | SlabDebugFlags.RedZone;
                o.ThrowOnError = true;
            })
            .BuildServiceProvider();

        SlabPoolsOptions options = services.GetRequiredService<SlabAllocator>().Options;
        Assert.Equal(TimeSpan.FromMilliseconds(2500), options.FlushInterval);
        Assert.Equal(SlabDebugFlags.Poison | SlabDebugFlags.RedZone, options.Debug);
        Assert.True(options.ThrowOnError);
    }

    [Fact]
    public void A_TimeProvider_in_the_container_drives_the_allocator_when_the_options_keep_the_default()
    {
        var clock = new FakeTimeProvider();
        using ServiceProvider services = new ServiceCollection()
            .AddSingleton<TimeProvider>(clock)
            .AddSlabPools()
            .BuildServiceProvider();

        Assert.Same(clock, services.GetRequiredService<SlabAllocator>().Options.TimeProvider);

        // The options object of the container is not changed by that.
        Assert.Same(TimeProvider.System, services.GetRequiredService<IOptions<SlabPoolsOptions>>().Value.TimeProvider);
    }

    [Fact]
    public void A_TimeProvider_set_in_the_options_wins_over_the_containers()
    {
        var chosen = new FakeTimeProvider();
        using ServiceProvider services = new ServiceCollection()
            .AddSingleton<TimeProvider>(new FakeTimeProvider())
            .AddSlabPools(o => o.TimeProvider = chosen)
            .BuildServiceProvider();

        Assert.Same(chosen, services.GetRequiredService<SlabAllocator>().Options.TimeProvider);
    }

    [Fact]
    public void Invalid_options_fail_when_the_allocator_is_built_with_a_message_naming_the_setting()
    {
        using ServiceProvider services = new ServiceCollection()
            .AddSlabPools(o => o.FlushInterval = TimeSpan.Zero)
            .BuildServiceProvider();

        OptionsValidationException e = Assert.Throws<OptionsValidationException>(() => services.GetRequiredService<SlabAllocator>());
        Assert.Contains("SlabPools:FlushInterval must be positive", e.Message);
    }

    [Fact]
    public async Task Disposing_the_container_disposes_the_allocator_and_leaves_rented_buffers_returnable()
    {
        ServiceProvider services = new ServiceCollection().AddSlabPools().BuildServiceProvider();
        SlabAllocator allocator = services.GetRequiredService<SlabAllocator>();
        MemoryPool<byte> pool = services.GetRequiredService<IMemoryPoolFactory<byte>>().Create();
        IMemoryOwner<byte> kept = pool.Rent();
        using (pool.Rent())
        {
        }

        await services.DisposeAsync();

        Assert.Throws<ObjectDisposedException>(() => allocator.MemoryPool.Rent());
        kept.Memory.Span.Fill(7);
        kept.Dispose();
        Assert.Equal(0, allocator.ErrorCount(SlabErrorKind.DoubleFree) + allocator.ErrorCount(SlabErrorKind.UseAfterFree) + allocator.ErrorCount(SlabErrorKind.ForeignObject));
        Assert.Equal(0, allocator.GetInfo().Single(c => c.Name == "pinned-16384").ActiveObjects);
    }
}
