using System;

namespace SlabPools;

/// <summary>Describes one error a slab cache detected and survived.</summary>
public sealed class SlabErrorEventArgs : EventArgs
{
    /// <summary>Creates the event data.</summary>
    public SlabErrorEventArgs(SlabErrorKind kind, string cacheName, string message, long objectOffset = -1)
    {
        Kind = kind;
        CacheName = cacheName;
        Message = message;
        ObjectOffset = objectOffset;
    }

    /// <summary>What went wrong.</summary>
    public SlabErrorKind Kind { get; }

    /// <summary>The cache the object belongs to (or was given to).</summary>
    public string CacheName { get; }

    /// <summary>The full report: a BUG line, INFO lines and a FIX line saying what was done to carry on.</summary>
    public string Message { get; }

    /// <summary>Offset of the object inside its slab, or -1 where it has none (a foreign object).</summary>
    public long ObjectOffset { get; }

    /// <inheritdoc/>
    public override string ToString() => Message;
}
