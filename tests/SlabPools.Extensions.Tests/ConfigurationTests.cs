using System;
using System.Collections.Generic;
using System.IO;
using System.Text;
using System.Threading.Tasks;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using Xunit;

namespace SlabPools.Extensions.Tests;

/// <summary>Options bound from configuration, and bad settings stopping the host at start.</summary>
public class ConfigurationTests
{
    [Fact]
    public void Options_bind_from_an_in_memory_section()
    {
        IConfiguration configuration = new ConfigurationBuilder()
            .AddInMemoryCollection(new Dictionary<string, string?>
            {
                ["SlabPools:FlushInterval"] = "00:00:05",
                ["SlabPools:Debug"] = "Poison, Track",
                ["SlabPools:ThrowOnError"] = "true",
                ["SlabPools:CollectAfterRelease"] = "1048576",
                ["SlabPools:CollectionMode"] = "Aggressive",
                ["SlabPools:TransportBlockSize"] = "8192",
            })
            .Build();

        SlabPoolsOptions options = AllocatorOptionsFrom(configuration);

        Assert.Equal(TimeSpan.FromSeconds(5), options.FlushInterval);
        Assert.Equal(SlabDebugFlags.Poison | SlabDebugFlags.Track, options.Debug);
        Assert.True(options.ThrowOnError);
        Assert.Equal(1L << 20, options.CollectAfterRelease);
        Assert.Equal(SlabCollectionMode.Aggressive, options.CollectionMode);
        Assert.Equal(8192, options.TransportBlockSize);
    }

    [Fact]
    public void Options_bind_from_json()
    {
        const string json = """
            {
              "SlabPools": {
                "FlushInterval": "00:00:02.500",
                "Debug": "ConsistencyChecks, RedZone",
                "ThrowOnError": false
              }
            }
            """;
        IConfiguration configuration = new ConfigurationBuilder().AddJsonStream(new MemoryStream(Encoding.UTF8.GetBytes(json))).Build();

        SlabPoolsOptions options = AllocatorOptionsFrom(configuration);

        Assert.Equal(TimeSpan.FromMilliseconds(2500), options.FlushInterval);
        Assert.Equal(SlabDebugFlags.ConsistencyChecks | SlabDebugFlags.RedZone, options.Debug);
        Assert.False(options.ThrowOnError);
    }

    [Fact]
    public void The_configure_callback_runs_after_the_bound_section()
    {
        IConfiguration configuration = Config(("SlabPools:FlushInterval", "00:00:05"), ("SlabPools:Debug", "All"));
        using ServiceProvider services = new ServiceCollection()
            .Configure<SlabPoolsOptions>(configuration.GetSection("SlabPools"))
            .AddSlabPools(o => o.Debug &= ~SlabDebugFlags.Track)
            .BuildServiceProvider();

        SlabPoolsOptions options = services.GetRequiredService<SlabAllocator>().Options;
        Assert.Equal(TimeSpan.FromSeconds(5), options.FlushInterval);
        Assert.Equal(SlabDebugFlags.ConsistencyChecks | SlabDebugFlags.RedZone | SlabDebugFlags.Poison, options.Debug);
    }

    [Theory]
    [InlineData("FlushInterval", "00:00:00", "SlabPools:FlushInterval must be positive")]
    [InlineData("FlushInterval", "-00:00:01", "SlabPools:FlushInterval must be positive")]
    [InlineData("FlushInterval", "2.00:00:00", "SlabPools:FlushInterval must be at most one day")]
    [InlineData("Debug", "64", "SlabPools:Debug has unknown flags (64)")]
    [InlineData("CollectionMode", "5", "SlabPools:CollectionMode must be Background or Aggressive (was 5)")]
    [InlineData("TransportBlockSize", "0", "SlabPools:TransportBlockSize must be a multiple of 4096 from 4096 to 65536 bytes (was 0)")]
    [InlineData("TransportBlockSize", "2048", "SlabPools:TransportBlockSize must be a multiple of 4096 from 4096 to 65536 bytes (was 2048)")]
    [InlineData("TransportBlockSize", "5000", "SlabPools:TransportBlockSize must be a multiple of 4096 from 4096 to 65536 bytes (was 5000)")]
    [InlineData("TransportBlockSize", "131072", "SlabPools:TransportBlockSize must be a multiple of 4096 from 4096 to 65536 bytes (was 131072)")]
    public async Task A_bad_setting_stops_the_host_at_start_with_a_message_naming_it(string key, string value, string expected)
    {
        using IHost host = HostWith(Config(("SlabPools:" + key, value)));

        OptionsValidationException e = await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync());

        Assert.Contains(expected, e.Message);
        Assert.Equal(typeof(SlabPoolsOptions), e.OptionsType);
    }

    [Fact]
    public async Task An_unknown_debug_flag_name_stops_the_host_at_start_naming_the_setting()
    {
        using IHost host = HostWith(Config(("SlabPools:Debug", "Poison, Sparkles")));

        InvalidOperationException e = await Assert.ThrowsAsync<InvalidOperationException>(() => host.StartAsync());

        Assert.Contains("SlabPools:Debug", e.Message);
    }

    [Fact]
    public async Task Several_bad_settings_are_all_reported()
    {
        using IHost host = HostWith(Config(("SlabPools:FlushInterval", "00:00:00"), ("SlabPools:Debug", "1024")));

        OptionsValidationException e = await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync());

        Assert.Contains("SlabPools:FlushInterval", e.Message);
        Assert.Contains("SlabPools:Debug", e.Message);
    }

    [Fact]
    public async Task A_good_configuration_starts_and_stops_the_host()
    {
        using IHost host = HostWith(Config(("SlabPools:FlushInterval", "00:00:05"), ("SlabPools:Debug", "Poison, Track")));

        await host.StartAsync();
        SlabAllocator allocator = host.Services.GetRequiredService<SlabAllocator>();
        Assert.Equal(TimeSpan.FromSeconds(5), allocator.Options.FlushInterval);
        Assert.Equal(SlabDebugFlags.Poison | SlabDebugFlags.Track, allocator.Options.Debug);
        await host.StopAsync();
    }

    private static IConfiguration Config(params (string Key, string Value)[] settings)
    {
        var values = new Dictionary<string, string?>();
        foreach ((string key, string value) in settings)
        {
            values[key] = value;
        }

        return new ConfigurationBuilder().AddInMemoryCollection(values).Build();
    }

    private static SlabPoolsOptions AllocatorOptionsFrom(IConfiguration configuration)
    {
        using ServiceProvider services = new ServiceCollection()
            .Configure<SlabPoolsOptions>(configuration.GetSection("SlabPools"))
            .AddSlabPools()
            .BuildServiceProvider();
        return services.GetRequiredService<SlabAllocator>().Options;
    }

    private static IHost HostWith(IConfiguration configuration)
    {
        HostApplicationBuilder builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings());
        builder.Configuration.AddConfiguration(configuration);
        builder.Services.Configure<SlabPoolsOptions>(builder.Configuration.GetSection("SlabPools"));
        builder.Services.AddSlabPools();
        return builder.Build();
    }
}
