using System;
using System.Buffers;
using System.IO.Pipelines;
using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using SlabPools;
using SlabPools.Extensions;
using SlabPools.Extensions.Kestrel;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers SlabPools in a service collection.</summary>
public static class SlabPoolsServiceCollectionExtensions
{
    /// <summary>
    /// Registers one <see cref="SlabAllocator"/> and its pools as singletons, so that the buffer
    /// users of the application (Kestrel, Pipelines, code asking for <see cref="ArrayPool{T}"/> or
    /// <see cref="MemoryPool{T}"/>) share its slab caches.
    /// </summary>
    /// <param name="services">The service collection.</param>
    /// <param name="configure">Changes to the options, applied after the other configuration of
    /// <see cref="SlabPoolsOptions"/> registered before this call (for example
    /// <c>services.Configure&lt;SlabPoolsOptions&gt;(configuration.GetSection("SlabPools"))</c>).</param>
    /// <returns><paramref name="services"/>.</returns>
    /// <remarks>
    /// <para>Services registered (each a singleton):</para>
    /// <list type="table">
    /// <item><term><see cref="SlabAllocator"/></term><description>built from the validated
    /// <see cref="SlabPoolsOptions"/>; disposed with the container.</description></item>
    /// <item><term><see cref="ArrayPool{T}"/> of bytes</term><description><see cref="SlabAllocator.ArrayPool"/>.</description></item>
    /// <item><term><see cref="MemoryPool{T}"/> of bytes</term><description><see cref="SlabAllocator.MemoryPool"/> (pinned slabs).</description></item>
    /// <item><term><see cref="NativeBufferPool"/></term><description><see cref="SlabAllocator.NativeBufferPool"/>.</description></item>
    /// <item><term><see cref="IMemoryPoolFactory{T}"/> of bytes and <see cref="SlabMemoryPoolFactory"/></term><description>pools
    /// over the one shared <see cref="SlabAllocator.MemoryPool"/>; Kestrel's socket transport uses it.</description></item>
    /// <item><term><see cref="PipeOptions"/></term><description>pipes whose segments come from
    /// <see cref="SlabAllocator.MemoryPool"/>, <see cref="SlabPoolsOptions.TransportBlockSize"/> bytes at
    /// least (16 KiB by default); the other settings are the defaults.</description></item>
    /// </list>
    /// <para>Options come through <see cref="IOptions{TOptions}"/>, are checked with
    /// <see cref="SlabPoolsOptions.Validate"/> and are validated when the host starts, so a bad
    /// setting stops the host with a message naming it. When the options keep the default
    /// <see cref="SlabPoolsOptions.TimeProvider"/> (<see cref="TimeProvider.System"/>) and the
    /// container has a <see cref="TimeProvider"/>, the allocator runs on the container's one.</para>
    /// <para>Detected errors are logged at Error level under the category <c>SlabPools</c> (when an
    /// <c>ILoggerFactory</c> is registered) and counted by the <c>slabpools.errors</c> instrument.
    /// The meter <c>SlabPools</c> (and, once Kestrel or anyone else creates a pool through the
    /// factory, <c>Microsoft.AspNetCore.MemoryPool</c>) is made with the container's
    /// <c>IMeterFactory</c> when there is one.</para>
    /// <para><b>Kestrel.</b> The container's last registration of <see cref="IMemoryPoolFactory{T}"/>
    /// wins. Called after Kestrel was added (after <c>WebApplication.CreateBuilder</c>), this method
    /// registers last and Kestrel uses SlabPools. Called before (for example in a generic host's
    /// <c>ConfigureServices</c> ahead of <c>ConfigureWebHostDefaults</c>), Kestrel's own factory is
    /// the one the container resolves; SlabPools then gives its factory to Kestrel's socket transport
    /// by post-configuring <c>SocketTransportOptions</c>, unless that transport was given a factory
    /// that is not Kestrel's own, and logs what it did. Other transports (named pipes, QUIC) are
    /// served only when this method is called after Kestrel is added.</para>
    /// <para>Calling this method again registers nothing new but still applies
    /// <paramref name="configure"/>.</para>
    /// </remarks>
    /// <exception cref="ArgumentNullException"><paramref name="services"/> is null.</exception>
    public static IServiceCollection AddSlabPools(this IServiceCollection services, Action<SlabPoolsOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        if (!IsRegistered(services))
        {
            Register(services);
        }

        if (configure is not null)
        {
            services.Configure(configure);
        }

        return services;
    }

    private static bool IsRegistered(IServiceCollection services)
    {
        foreach (ServiceDescriptor descriptor in services)
        {
            if (descriptor.ServiceType == typeof(SlabPoolsRuntime))
            {
                return true;
            }
        }

        return false;
    }

    private static void Register(IServiceCollection services)
    {
        services.AddOptions<SlabPoolsOptions>().ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<SlabPoolsOptions>, SlabPoolsOptionsValidator>());

        services.AddSingleton(SlabPoolsRuntime.Create);
        services.AddSingleton(sp => sp.GetRequiredService<SlabPoolsRuntime>().Allocator);
        services.AddSingleton<ArrayPool<byte>>(sp => sp.GetRequiredService<SlabAllocator>().ArrayPool);
        services.AddSingleton<MemoryPool<byte>>(sp => sp.GetRequiredService<SlabAllocator>().MemoryPool);
        services.AddSingleton(sp => sp.GetRequiredService<SlabAllocator>().NativeBufferPool);
        services.AddSingleton(sp => sp.GetRequiredService<SlabPoolsRuntime>().MemoryPoolFactory);
        services.AddSingleton<IMemoryPoolFactory<byte>>(sp => sp.GetRequiredService<SlabMemoryPoolFactory>());
        services.AddSingleton(sp => new PipeOptions(
            pool: sp.GetRequiredService<SlabAllocator>().MemoryPool,
            minimumSegmentSize: sp.GetRequiredService<SlabMemoryPoolFactory>().BlockSize));

        // Serves Kestrel's socket transport when Kestrel is added after this call (see the remarks above).
        services.TryAddEnumerable(ServiceDescriptor.Singleton(typeof(IPostConfigureOptions<>), typeof(TransportOptionsPostConfigure<>)));
    }
}
