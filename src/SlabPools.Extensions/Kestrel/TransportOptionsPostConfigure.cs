using System;
using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using SlabPools.Extensions.Logging;

namespace SlabPools.Extensions.Kestrel;

/// <summary>
/// Lets SlabPools serve Kestrel's socket transport when <c>AddSlabPools</c> ran before Kestrel was
/// added, so that the container resolves Kestrel's own <see cref="IMemoryPoolFactory{T}"/> (the
/// last registration wins) and the transport copies that one into its options.
/// </summary>
/// <remarks>
/// <para>Registered as an open generic <see cref="IPostConfigureOptions{TOptions}"/>, so the
/// container closes it over every options type the application resolves; for all but Kestrel's
/// <c>SocketTransportOptions</c> it does nothing (the check is a static field, computed once per
/// type). Post-configuration runs after every <c>Configure</c>, including the transport's own.</para>
/// <para>It replaces the transport's factory only when that factory is Kestrel's own (its type
/// comes from an ASP.NET Core assembly): a factory someone registered after <c>AddSlabPools</c> is
/// left alone, with a warning.</para>
/// </remarks>
internal sealed class TransportOptionsPostConfigure<TOptions> : IPostConfigureOptions<TOptions>
    where TOptions : class
{
    private static readonly bool s_isSocketTransport = typeof(TOptions).FullName == SocketTransportAccess.OptionsTypeName;

    private readonly IServiceProvider _services;

    public TransportOptionsPostConfigure(IServiceProvider services) => _services = services;

    public void PostConfigure(string? name, TOptions options)
    {
        if (s_isSocketTransport)
        {
            ServeSocketTransport(options);
        }
    }

    private void ServeSocketTransport(TOptions options)
    {
        SlabMemoryPoolFactory ours = _services.GetRequiredService<SlabMemoryPoolFactory>();
        ILogger logger = _services.GetService<ILoggerFactory>()?.CreateLogger(SlabPoolsLog.Category) ?? NullLogger.Instance;
        IMemoryPoolFactory<byte>? current;
        try
        {
            current = SocketTransportAccess.GetMemoryPoolFactory(options);
            if (ReferenceEquals(current, ours))
            {
                return;
            }

            if (current is not null && !IsKestrels(current))
            {
                SlabPoolsLog.KestrelTransportNotServed(logger, SocketTransportAccess.OptionsTypeName, current.GetType().FullName ?? current.GetType().Name);
                return;
            }

            SocketTransportAccess.SetMemoryPoolFactory(options, ours);
        }
        catch (MissingMemberException e)
        {
            SlabPoolsLog.KestrelTransportUnreachable(logger, SocketTransportAccess.OptionsTypeName, e);
            return;
        }

        SlabPoolsLog.KestrelTransportServed(logger, SocketTransportAccess.OptionsTypeName, current?.GetType().FullName ?? "default");
    }

    private static bool IsKestrels(IMemoryPoolFactory<byte> factory) =>
        factory.GetType().Assembly.GetName().Name?.StartsWith("Microsoft.AspNetCore.", StringComparison.Ordinal) == true;
}
