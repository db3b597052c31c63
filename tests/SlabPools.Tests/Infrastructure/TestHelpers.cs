using System;
using System.Collections.Generic;
using System.Threading;
using SlabPools.Pages;

namespace SlabPools.Tests.Infrastructure;

/// <summary>A page allocator that fails chosen requests (fault injection).</summary>
internal sealed class FailingPageAllocator : DerivedPageAllocator
{
    private int _calls;

    public FailingPageAllocator(PageAllocator inner, Func<int, bool> failWhen)
        : base(inner) => FailWhen = failWhen;

    public Func<int, bool> FailWhen { get; set; }

    public int Calls => Volatile.Read(ref _calls);

    public override string Name => "failing/" + Inner.Name;

    protected override PageBlock AllocateCore(nuint bytes, int node)
    {
        int call = Interlocked.Increment(ref _calls);
        return FailWhen(call) ? ThrowOutOfMemory(Name, bytes, $"injected failure of call {call}") : Inner.Allocate(bytes, node);
    }
}

/// <summary>A topology whose current processor is set per thread, to fake a multi-node machine.</summary>
internal sealed class FakeTopology : NodeTopology
{
    [ThreadStatic]
    private static int t_cpu;

    public FakeTopology(params int[] nodeOfProcessor)
        : base(nodeOfProcessor)
    {
    }

    public static int Cpu { get => t_cpu; set => t_cpu = value; }

    public override int CurrentProcessor => t_cpu % ProcessorCount;
}

/// <summary>Collects error reports of an allocator.</summary>
internal sealed class ErrorLog
{
    public ErrorLog(SlabAllocator allocator) => allocator.ErrorDetected += (_, e) => { lock (Errors) { Errors.Add(e); } };

    public List<SlabErrorEventArgs> Errors { get; } = new();

    public int Count(SlabErrorKind kind)
    {
        lock (Errors)
        {
            return Errors.FindAll(e => e.Kind == kind).Count;
        }
    }
}

internal static class Run
{
    /// <summary>Runs <paramref name="action"/> on a new thread and waits for it (bounded).</summary>
    public static void OnNewThread(Action action) => Parallel(action);

    /// <summary>Runs each action on a thread of its own and waits for all of them (bounded: 60 s).</summary>
    public static void Parallel(params Action[] actions) => Parallel(TimeSpan.FromSeconds(60), actions);

    /// <summary>Runs each action on a thread of its own and waits for all of them, at most <paramref name="timeout"/> each.</summary>
    public static void Parallel(TimeSpan timeout, params Action[] actions)
    {
        var errors = new System.Collections.Concurrent.ConcurrentQueue<Exception>();
        var threads = new List<Thread>();
        foreach (Action action in actions)
        {
            var t = new Thread(() =>
            {
                try
                {
                    action();
                }
                catch (Exception e)
                {
                    errors.Enqueue(e);
                }
            });
            t.Start();
            threads.Add(t);
        }

        foreach (Thread t in threads)
        {
            if (!t.Join(timeout))
            {
                throw new TimeoutException("A worker thread did not finish in time.");
            }
        }

        if (!errors.IsEmpty)
        {
            throw new AggregateException(errors);
        }
    }
}
