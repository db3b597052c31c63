using System;
using System.Threading;

namespace SlabPools;

/// <summary>
/// Which memory node each processor belongs to. Slab caches keep one partial list per node and
/// prefer the current processor's node; on a one-node machine that is a single list and costs
/// nothing. Derive from this class to describe a machine (or to fake one in tests).
/// </summary>
public class NodeTopology
{
    private readonly int[] _nodeOfProcessor;

    /// <summary>Creates a topology from a processor-to-node map.</summary>
    /// <param name="nodeOfProcessor">Entry <c>i</c> is the node of processor <c>i</c>; nodes are numbered from 0 without gaps.</param>
    /// <exception cref="ArgumentException">The map is empty or a node number is negative.</exception>
    public NodeTopology(ReadOnlySpan<int> nodeOfProcessor)
    {
        if (nodeOfProcessor.IsEmpty)
        {
            throw new ArgumentException("A topology needs at least one processor.", nameof(nodeOfProcessor));
        }

        int max = 0;
        foreach (int node in nodeOfProcessor)
        {
            if (node < 0)
            {
                throw new ArgumentException("Node numbers must not be negative.", nameof(nodeOfProcessor));
            }

            max = Math.Max(max, node);
        }

        _nodeOfProcessor = nodeOfProcessor.ToArray();
        NodeCount = max + 1;
    }

    /// <summary>One node holding all <see cref="Environment.ProcessorCount"/> processors.</summary>
    public static NodeTopology SingleNode { get; } = new(new int[Environment.ProcessorCount]);

    /// <summary>Number of processors described.</summary>
    public int ProcessorCount => _nodeOfProcessor.Length;

    /// <summary>Number of memory nodes.</summary>
    public int NodeCount { get; }

    /// <summary>The node of a processor number in <c>[0, ProcessorCount)</c>.</summary>
    public int GetNode(int processor) => _nodeOfProcessor[processor];

    /// <summary>
    /// The processor the calling thread runs on, in <c>[0, ProcessorCount)</c>. The default reads
    /// <see cref="Thread.GetCurrentProcessorId"/>; tests override it to pin threads to fake processors.
    /// </summary>
    public virtual int CurrentProcessor
    {
        get
        {
            int id = Thread.GetCurrentProcessorId();
            int count = _nodeOfProcessor.Length;
            return (uint)id < (uint)count ? id : (int)((uint)id % (uint)count);
        }
    }
}
