using System.Collections.Generic;
using System.Linq;
using SlabPools.Tests.Infrastructure;
using Xunit;

namespace SlabPools.Tests.Slabs;

public class NumaTests
{
    [Fact]
    public void Slabs_come_from_the_local_node_and_remote_nodes_are_used_before_new_slabs()
    {
        var topology = new FakeTopology(0, 0, 1, 1); // cpus 0,1 on node 0; cpus 2,3 on node 1
        using var allocator = new SlabAllocator(new SlabPoolsOptions { Topology = topology });
        SlabCache cache = allocator.CreateCache("numa", 1024, new SlabCacheOptions { AllowMerge = false });
        int perSlab = cache.ObjectsPerSlab;

        List<nint> node0 = new(), node1 = new();
        Run.OnNewThread(() => { FakeTopology.Cpu = 1; node0.AddRange(Enumerable.Range(0, 2 * perSlab).Select(_ => cache.Allocate())); });
        Run.OnNewThread(() => { FakeTopology.Cpu = 3; node1.AddRange(Enumerable.Range(0, 2 * perSlab).Select(_ => cache.Allocate())); });
        Assert.All(node0, p => Assert.Equal(0, allocator.Map.Find(p)!.Node));
        Assert.All(node1, p => Assert.Equal(1, allocator.Map.Find(p)!.Node));

        // Half of node 1's objects are freed by a thread on node 0: they go back to node 1's list.
        List<nint> freed = node1.Where((_, i) => i % 2 == 0).ToList();
        Run.OnNewThread(() => { FakeTopology.Cpu = 0; freed.ForEach(cache.Free); });
        cache.Shrink(); // returns magazines and CPU slabs; nothing is empty, so nothing is released
        Assert.Equal(0, cache.PartialSlabCount(0));
        Assert.True(cache.PartialSlabCount(1) >= 1);
        long slabs = cache.GetInfo().Slabs;

        // A node-1 thread reuses node-1 memory.
        nint local = 0;
        Run.OnNewThread(() => { FakeTopology.Cpu = 2; local = cache.Allocate(); });
        Assert.Equal(1, allocator.Map.Find(local)!.Node);

        // A node-0 thread finds nothing local and takes a node-1 partial slab before making a new one.
        cache.Shrink();
        nint remote = 0;
        Run.OnNewThread(() => { FakeTopology.Cpu = 0; remote = cache.Allocate(); });
        Assert.Equal(1, allocator.Map.Find(remote)!.Node);
        Assert.Equal(slabs, cache.GetInfo().Slabs);
        Assert.Equal((4 * perSlab) - freed.Count + 2, cache.GetInfo().ActiveObjects);
    }

    [Fact]
    public void One_node_machines_have_one_partial_list()
    {
        Assert.Equal(1, NodeTopology.SingleNode.NodeCount);
        Assert.Equal(System.Environment.ProcessorCount, NodeTopology.SingleNode.ProcessorCount);
        Assert.InRange(NodeTopology.SingleNode.CurrentProcessor, 0, NodeTopology.SingleNode.ProcessorCount - 1);
    }
}
