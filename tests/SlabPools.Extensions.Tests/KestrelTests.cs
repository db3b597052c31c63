using System;
using System.Collections.Generic;
using System.Diagnostics.Metrics;
using System.Linq;
using System.Net.Http;
using System.Threading.Tasks;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Server.Kestrel.Transport.Sockets;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using SlabPools.Extensions.Kestrel;
using SlabPools.Extensions.Tests.Infrastructure;
using Xunit;

namespace SlabPools.Extensions.Tests;

/// <summary>
/// Kestrel on 127.0.0.1 served by SlabPools, whichever order the services are added in. Each test
/// checks both sides: SlabPools' pinned-16384 cache (the 16 KiB transport block) did the work, and Kestrel's own pool (its
/// <c>aspnetcore.memory_pool.rented</c> counter) did none.
/// </summary>
public class KestrelTests
{
    [Fact]
    public async Task AddSlabPools_after_CreateBuilder_serves_Kestrel()
    {
        WebApplicationBuilder builder = TestServer.CreateBuilder();
        builder.Services.AddSlabPools();
        await using WebApplication app = builder.Build();
        TestServer.MapTestEndpoints(app);
        using var kestrelsOwnPool = KestrelsOwnRentedCounter(app.Services);
        await app.StartAsync();

        Assert.IsType<SlabMemoryPoolFactory>(app.Services.GetRequiredService<IMemoryPoolFactory<byte>>());
        await GetHelloAsync(TestServer.AddressOf(app.Services), times: 20);

        AssertSlabPoolsServed(app.Services.GetRequiredService<SlabAllocator>());
        Assert.Empty(kestrelsOwnPool.GetMeasurementSnapshot());

        // Kestrel's dashboards still get their figures, from SlabPools, tagged with the owner Kestrel gives.
        using var rented = new MetricCollector<long>(app.Services.GetRequiredService<SlabPoolsRuntime>().MemoryPoolMetrics.Meter, "aspnetcore.memory_pool.rented");
        rented.RecordObservableInstruments();
        CollectedMeasurement<long> measurement = Assert.Single(rented.GetMeasurementSnapshot());
        Assert.Equal("kestrel", measurement.Tags["aspnetcore.memory_pool.owner"]);
        Assert.True(measurement.Value >= 20 * 16384, $"rented {measurement.Value} bytes");
        await app.StopAsync();
    }

    [Fact]
    public async Task AddSlabPools_before_Kestrel_is_added_still_serves_the_socket_transport()
    {
        var logs = new CapturingLoggerProvider();
        using IHost host = TestServer.CreateGenericHost(services => services.AddSlabPools(), logs: logs).Build();
        using var kestrelsOwnPool = KestrelsOwnRentedCounter(host.Services);
        await host.StartAsync();

        // The container resolves Kestrel's factory (it was registered last) ...
        Assert.IsNotType<SlabMemoryPoolFactory>(host.Services.GetRequiredService<IMemoryPoolFactory<byte>>());
        await GetHelloAsync(TestServer.AddressOf(host.Services), times: 20);

        // ... yet the socket transport was given SlabPools' factory, and said so in the log.
        AssertSlabPoolsServed(host.Services.GetRequiredService<SlabAllocator>());
        Assert.Empty(kestrelsOwnPool.GetMeasurementSnapshot());
        LogEntry served = Assert.Single(logs.Of("SlabPools"), e => e.EventId.Name == "KestrelTransportServed");
        Assert.Equal(LogLevel.Information, served.Level);
        Assert.Contains("PinnedBlockMemoryPoolFactory", served.Message);
        await host.StopAsync();
    }

    [Fact]
    public async Task Without_SlabPools_Kestrels_own_pool_serves_which_the_other_tests_rely_on_to_tell_them_apart()
    {
        using IHost host = TestServer.CreateGenericHost(_ => { }).Build();
        using var kestrelsOwnPool = KestrelsOwnRentedCounter(host.Services);
        await host.StartAsync();

        await GetHelloAsync(TestServer.AddressOf(host.Services), times: 5);

        Assert.NotEmpty(kestrelsOwnPool.GetMeasurementSnapshot());
        Assert.True(kestrelsOwnPool.GetMeasurementSnapshot().Sum(m => m.Value) >= 5 * 4096);
        await host.StopAsync();
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void The_socket_transport_options_get_SlabPools_factory_in_either_order(bool slabPoolsFirst)
    {
        using IHost host = (slabPoolsFirst
            ? TestServer.CreateGenericHost(services => services.AddSlabPools())
            : TestServer.CreateGenericHost(_ => { }, services => services.AddSlabPools())).Build();

        SocketTransportOptions options = host.Services.GetRequiredService<IOptions<SocketTransportOptions>>().Value;

        Assert.Same(host.Services.GetRequiredService<SlabMemoryPoolFactory>(), SocketTransportAccess.GetMemoryPoolFactory(options));
    }

    [Fact]
    public void A_factory_registered_after_AddSlabPools_is_left_to_Kestrel_with_a_warning()
    {
        var logs = new CapturingLoggerProvider();
        var custom = new CustomFactory();
        using IHost host = TestServer.CreateGenericHost(
            services => services.AddSlabPools(),
            services => services.AddSingleton<IMemoryPoolFactory<byte>>(custom),
            logs).Build();

        SocketTransportOptions options = host.Services.GetRequiredService<IOptions<SocketTransportOptions>>().Value;

        Assert.Same(custom, SocketTransportAccess.GetMemoryPoolFactory(options));
        LogEntry warning = Assert.Single(logs.Of("SlabPools"), e => e.EventId.Name == "KestrelTransportNotServed");
        Assert.Equal(LogLevel.Warning, warning.Level);
        Assert.Contains(typeof(CustomFactory).FullName!, warning.Message);
    }

    [Fact]
    public async Task Echo_under_concurrent_requests_returns_every_byte()
    {
        const int clients = 8;
        const int requestsPerClient = 25;
        const int maxBody = 256 * 1024;
        WebApplicationBuilder builder = TestServer.CreateBuilder();
        builder.Services.AddSlabPools();
        await using WebApplication app = builder.Build();
        TestServer.MapTestEndpoints(app);
        await app.StartAsync();
        using HttpClient client = TestServer.CreateClient(TestServer.AddressOf(app.Services));

        long[] bytesEchoed = await Task.WhenAll(Enumerable.Range(0, clients).Select(async worker =>
        {
            var random = new Random(1000 + worker);
            long total = 0;
            for (int i = 0; i < requestsPerClient; i++)
            {
                byte[] body = new byte[random.Next(0, maxBody + 1)];
                random.NextBytes(body);
                using HttpResponseMessage response = await client.PostAsync("/echo", new ByteArrayContent(body));
                response.EnsureSuccessStatusCode();
                byte[] echoed = await response.Content.ReadAsByteArrayAsync();
                Assert.Equal(body.Length, echoed.Length);
                Assert.True(body.AsSpan().SequenceEqual(echoed), $"worker {worker}, request {i}: the echoed body differs");
                total += body.Length;
            }

            return total;
        })).WaitAsync(TimeSpan.FromSeconds(45));

        Assert.True(bytesEchoed.Sum() > clients * requestsPerClient * (long)maxBody / 4);
        SlabAllocator allocator = app.Services.GetRequiredService<SlabAllocator>();
        AssertSlabPoolsServed(allocator);
        Assert.Equal(0, allocator.ErrorCount(SlabErrorKind.DoubleFree) + allocator.ErrorCount(SlabErrorKind.UseAfterFree));
        await app.StopAsync();
    }

    private static async Task GetHelloAsync(Uri address, int times)
    {
        using HttpClient client = TestServer.CreateClient(address);
        for (int i = 0; i < times; i++)
        {
            byte[] body = await client.GetByteArrayAsync("/hello");
            Assert.Equal(TestServer.Hello, body);
        }
    }

    private static void AssertSlabPoolsServed(SlabAllocator allocator)
    {
        SlabCacheInfo blocks = Assert.Single(allocator.GetInfo(), c => c.Name == "pinned-16384");
        Assert.True(blocks.FastAllocations + blocks.SlowAllocations > 0, allocator.FormatSlabInfo());
        Assert.True(blocks.SlabsAllocated > 0, allocator.FormatSlabInfo());
    }

    /// <summary>
    /// Kestrel's own memory pool counter: the meter factory hands back Kestrel's meter instance
    /// (same name, no version), not SlabPools' compatible one (version "slabpools").
    /// </summary>
    private static MetricCollector<long> KestrelsOwnRentedCounter(IServiceProvider services)
    {
        Meter kestrels = services.GetRequiredService<IMeterFactory>().Create("Microsoft.AspNetCore.MemoryPool");
        Assert.Null(kestrels.Version);
        return new MetricCollector<long>(kestrels, "aspnetcore.memory_pool.rented");
    }

    private sealed class CustomFactory : IMemoryPoolFactory<byte>
    {
        public System.Buffers.MemoryPool<byte> Create(MemoryPoolOptions? options = null) => System.Buffers.MemoryPool<byte>.Shared;
    }
}
