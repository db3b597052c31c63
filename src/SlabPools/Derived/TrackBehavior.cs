using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Threading;
using SlabPools.Slabs;

namespace SlabPools.Derived;

/// <summary>
/// The tracking allocator: keeps the stack trace, thread and time of the last allocation and the
/// last free of every object, and adds them to reports (the kernel's SLAB_STORE_USER). Objects
/// handed out and not yet freed can be listed with their allocation stacks (leak reports).
/// </summary>
internal sealed class TrackBehavior : DerivedBehavior
{
    // Protects _records. Touched only on the derived path, which is already serialized per cache.
    private readonly Lock _lock = new();
    private readonly Dictionary<nint, TrackRecord> _records = new();

    internal sealed class TrackRecord
    {
        internal string? AllocStack;
        internal int AllocThread;
        internal DateTime AllocTime;
        internal string? FreeStack;
        internal int FreeThread;
        internal DateTime FreeTime;
        internal bool Live;
    }

    internal override void OnAllocate(SlabCache cache, Slab slab, int index, nint address, int requested) =>
        Record(address, allocated: true);

    internal override void OnFree(SlabCache cache, Slab slab, int index, nint address) =>
        Record(address, allocated: false);

    // The stack is captured before taking the lock: it is by far the slowest part.
    private void Record(nint address, bool allocated)
    {
        string stack = Capture();
        int thread = Environment.CurrentManagedThreadId;
        DateTime now = DateTime.UtcNow;
        lock (_lock)
        {
            if (!_records.TryGetValue(address, out TrackRecord? r))
            {
                _records[address] = r = new TrackRecord();
            }

            if (allocated)
            {
                (r.AllocStack, r.AllocThread, r.AllocTime) = (stack, thread, now);
            }
            else
            {
                (r.FreeStack, r.FreeThread, r.FreeTime) = (stack, thread, now);
            }

            r.Live = allocated;
        }
    }

    internal override void OnSlabReleasing(SlabCache cache, Slab slab)
    {
        lock (_lock)
        {
            for (int i = 0; i < slab.Capacity; i++)
            {
                _records.Remove(slab.AddressOf(i));
            }
        }
    }

    internal override void Describe(nint address, StringBuilder info)
    {
        lock (_lock)
        {
            if (!_records.TryGetValue(address, out TrackRecord? r))
            {
                info.Append("INFO: no allocation or free recorded for this object\n");
                return;
            }

            if (r.AllocStack is not null)
            {
                info.Append(CultureInfo.InvariantCulture, $"INFO: allocated by thread {r.AllocThread} at {r.AllocTime:O}\n").Append(Indent(r.AllocStack));
            }

            if (r.FreeStack is not null)
            {
                info.Append(CultureInfo.InvariantCulture, $"INFO: freed by thread {r.FreeThread} at {r.FreeTime:O}\n").Append(Indent(r.FreeStack));
            }
        }
    }

    /// <summary>Objects handed out and not freed, with their allocation stacks.</summary>
    internal List<(nint Address, string Stack, DateTime Time)> Outstanding()
    {
        var result = new List<(nint, string, DateTime)>();
        lock (_lock)
        {
            foreach (KeyValuePair<nint, TrackRecord> pair in _records)
            {
                if (pair.Value.Live)
                {
                    result.Add((pair.Key, pair.Value.AllocStack ?? "", pair.Value.AllocTime));
                }
            }
        }

        return result;
    }

    /// <summary>
    /// The caller's stack, from the first frame outside SlabPools. The number of SlabPools frames
    /// is not fixed: methods the JIT inlines (the pools' AggressiveInlining fast paths, once tiered
    /// up) have no frame of their own, so skipping a fixed count dropped the user's frames.
    /// </summary>
    internal static string Capture()
    {
        StackFrame[] frames = new StackTrace(1, fNeedFileInfo: false).GetFrames();
        int first = 0;
        while (first < frames.Length - 1 && DiagnosticMethodInfo.Create(frames[first])?.DeclaringAssemblyName == s_assembly)
        {
            first++;
        }

        return new StackTrace(frames[first..]).ToString();
    }

    private static readonly string? s_assembly = typeof(TrackBehavior).Assembly.FullName;

    internal static string Indent(string stack)
    {
        var sb = new StringBuilder();
        foreach (string line in stack.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            sb.Append("    ").Append(line).Append('\n');
        }

        return sb.ToString();
    }
}
