using System;
using System.Buffers;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.DependencyInjection;

namespace SlabPools.Benchmarks;

/// <summary>
/// Kestrel's own memory pool, obtained the way Kestrel gets it: a web application is built (never
/// started) and its <see cref="IMemoryPoolFactory{T}"/> creates the pool.
/// </summary>
internal sealed class KestrelPool : IDisposable
{
    /// <summary>The size of Kestrel's blocks; larger requests throw.</summary>
    internal const int BlockSize = 4096;

    private readonly WebApplication _app;

    internal KestrelPool()
    {
        _app = WebApplication.CreateSlimBuilder().Build();
        Pool = _app.Services.GetRequiredService<IMemoryPoolFactory<byte>>().Create();
    }

    internal MemoryPool<byte> Pool { get; }

    public void Dispose()
    {
        Pool.Dispose();
        ((IDisposable)_app).Dispose();
    }
}
