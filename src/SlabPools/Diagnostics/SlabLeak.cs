using System;
using System.Collections.Generic;

namespace SlabPools;

/// <summary>An object handed out and not given back, as recorded by <see cref="SlabDebugFlags.Track"/>.</summary>
public sealed class SlabLeak
{
    internal SlabLeak(string cacheName, nint address, DateTime allocatedAt, string stackTrace)
    {
        CacheName = cacheName;
        Address = address;
        AllocatedAt = allocatedAt;
        StackTrace = stackTrace;
    }

    /// <summary>The cache the object came from.</summary>
    public string CacheName { get; }

    /// <summary>The object's address (0 for a managed array).</summary>
    public nint Address { get; }

    /// <summary>When it was handed out (UTC).</summary>
    public DateTime AllocatedAt { get; }

    /// <summary>Where it was handed out.</summary>
    public string StackTrace { get; }
}

/// <summary>The objects still handed out when an allocator with tracking is disposed.</summary>
public sealed class SlabLeakReportEventArgs : EventArgs
{
    internal SlabLeakReportEventArgs(IReadOnlyList<SlabLeak> leaks, string report)
    {
        Leaks = leaks;
        Report = report;
    }

    /// <summary>Every object still handed out.</summary>
    public IReadOnlyList<SlabLeak> Leaks { get; }

    /// <summary>The leaks as text: one LEAK line per object with its allocation stack.</summary>
    public string Report { get; }
}
