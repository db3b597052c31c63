using System;
using System.Buffers;
using System.Linq;
using System.Runtime.InteropServices;
using SlabPools.Pools;
using SlabPools.Tests.Infrastructure;
using Xunit;

namespace SlabPools.Tests.Derived;

/// <summary>
/// Each misuse × each pool it applies to, with every debugging feature on: the misuse is reported
/// exactly once with the right kind, and the pool works normally afterwards.
/// </summary>
public class FaultMatrixTests
{
    public static TheoryData<string, string> Cases()
    {
        var data = new TheoryData<string, string>();
        foreach (string fault in new[] { "double-free", "write-after-free", "red-zone", "foreign" })
        {
            foreach (string pool in new[] { "ArrayPool", "MemoryPool", "NativeBufferPool" })
            {
                if (Applies(fault, pool))
                {
                    data.Add(fault, pool);
                }
            }
        }

        return data;
    }

    // Managed arrays and spans are bounds-checked, so a red-zone overwrite needs a pointer (pinned or
    // native buffers); a MemoryPool owner cannot be foreign (returning is disposing the owner).
    private static bool Applies(string fault, string pool) =>
        fault switch
        {
            "red-zone" => pool != "ArrayPool",
            "foreign" => pool != "MemoryPool",
            _ => true,
        };

    [Theory]
    [MemberData(nameof(Cases))]
    public unsafe void Each_misuse_is_reported_once_and_the_pool_stays_consistent(string fault, string poolName)
    {
        using var allocator = new SlabAllocator(new SlabPoolsOptions { Debug = SlabDebugFlags.All, Topology = new NodeTopology([0]) });
        var log = new ErrorLog(allocator);
        SlabErrorKind expected = fault switch
        {
            "double-free" => SlabErrorKind.DoubleFree,
            "write-after-free" => SlabErrorKind.UseAfterFree,
            "red-zone" => SlabErrorKind.RedZoneOverwrite,
            _ => SlabErrorKind.ForeignObject,
        };

        switch (poolName)
        {
            case "ArrayPool":
            {
                ArrayPool<byte> pool = allocator.ArrayPool;
                byte[] a = pool.Rent(1000);
                switch (fault)
                {
                    case "double-free":
                        pool.Return(a);
                        pool.Return(a);
                        break;
                    case "write-after-free":
                        pool.Return(a);
                        a[500] = 1;
                        Assert.Same(a, pool.Rent(1000));
                        pool.Return(a);
                        break;
                    case "foreign":
                        pool.Return(new byte[1024]);
                        pool.Return(a);
                        break;
                }

                break;
            }

            case "MemoryPool":
            case "NativeBufferPool":
            {
                MemoryPool<byte> pool = poolName == "MemoryPool" ? allocator.MemoryPool : allocator.NativeBufferPool;
                IMemoryOwner<byte> owner = pool.Rent(1000);
                MemoryHandle pin = owner.Memory.Pin();
                byte* p = (byte*)pin.Pointer;
                int length = owner.Memory.Length;
                pin.Dispose();
                switch (fault)
                {
                    case "double-free":
                        owner.Dispose();
                        owner.Dispose();
                        break;
                    case "write-after-free":
                        owner.Dispose();
                        p[10] = 1; // through a pointer kept after the buffer went back
                        pool.Rent(1000).Dispose();
                        break;
                    case "red-zone":
                        p[length] = 1; // one past the end of the buffer
                        owner.Dispose();
                        break;
                    case "foreign":
                        byte* stack = stackalloc byte[64];
                        allocator.NativeBufferPool.Free((nint)stack);
                        owner.Dispose();
                        break;
                }

                break;
            }
        }

        Assert.Equal(expected, Assert.Single(log.Errors).Kind);

        // Nothing handed out twice, nothing leaked: the pools work and count right afterwards.
        Assert.All(allocator.GetInfo(), i => Assert.Equal(0, i.ActiveObjects));
        var owners = Enumerable.Range(0, 50).Select(_ => allocator.NativeBufferPool.Rent(1000)).Concat(Enumerable.Range(0, 50).Select(_ => allocator.MemoryPool.Rent(1000))).ToList();
        var arrays = Enumerable.Range(0, 50).Select(_ => allocator.ArrayPool.Rent(1000)).ToList();
        Assert.Equal(100, owners.Select(o => { using MemoryHandle h = o.Memory.Pin(); return (nint)h.Pointer; }).Distinct().Count());
        Assert.Equal(50, arrays.Distinct().Count());
        owners.ForEach(o => o.Dispose());
        arrays.ForEach(a => allocator.ArrayPool.Return(a));
        Assert.All(allocator.GetInfo(), i => Assert.Equal(0, i.ActiveObjects));
        Assert.Single(log.Errors);
    }
}
