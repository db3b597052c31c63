using System.Buffers;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using PublicApiGenerator;
using Snapshooter;
using Snapshooter.Xunit;
using Xunit;

namespace SlabPools.Extensions.Tests;

/// <summary>
/// Snapshots, stored in <c>__snapshots__</c> beside this file and committed. A mismatch writes the
/// new text to <c>__snapshots__/__mismatch__</c> and fails.
/// </summary>
/// <remarks>
/// To accept a deliberate change (the core's public API and slabinfo layout are still moving):
/// delete the snapshot file concerned from <c>__snapshots__</c>, run these tests once (a missing
/// snapshot is written and the test passes), review the diff and commit it.
/// </remarks>
public class SnapshotTests
{
    [Fact]
    public void Slabinfo_layout()
    {
        // One fake processor and a fake clock: every rent below lands on the same per-CPU slab and
        // no flush runs, so counts, slabs and hit rates are the same on every run. Slab sizes follow
        // the page size (4 KiB on the machines this project builds on).
        using var allocator = new SlabAllocator(new SlabPoolsOptions
        {
            Topology = new NodeTopology([0]),
            TimeProvider = new FakeTimeProvider(),
        });

        var blocks = new IMemoryOwner<byte>[20];
        for (int i = 0; i < blocks.Length; i++)
        {
            blocks[i] = allocator.MemoryPool.Rent();
        }

        for (int i = 0; i < 15; i++)
        {
            blocks[i].Dispose();
        }

        using IMemoryOwner<byte> large = allocator.MemoryPool.Rent(100_000);
        byte[] array = allocator.ArrayPool.Rent(100);
        allocator.ArrayPool.Return(array);
        allocator.ArrayPool.Rent(100);
        nint[] pointers = new nint[40];
        for (int i = 0; i < pointers.Length; i++)
        {
            pointers[i] = allocator.NativeBufferPool.Allocate(192);
        }

        for (int i = 0; i < pointers.Length; i += 2)
        {
            allocator.NativeBufferPool.Free(pointers[i]);
        }

        Snapshot.Match(allocator.FormatSlabInfo());
    }

    [Fact]
    public void Public_api_of_SlabPools() =>
        Snapshot.Match(typeof(SlabAllocator).Assembly.GeneratePublicApi(ApiOptions));

    [Fact]
    public void Public_api_of_SlabPools_Extensions() =>
        Snapshot.Match(typeof(SlabPoolsServiceCollectionExtensions).Assembly.GeneratePublicApi(ApiOptions));

    /// <summary>
    /// AddSlabPools lives in Microsoft.Extensions.DependencyInjection (a namespace the generator skips
    /// unless told); which test projects see internals is no part of the public API.
    /// </summary>
    private static ApiGeneratorOptions ApiOptions => new()
    {
        AllowNamespacePrefixes = ["Microsoft.Extensions.DependencyInjection"],
        ExcludeAttributes = ["System.Runtime.CompilerServices.InternalsVisibleToAttribute"],
    };
}
