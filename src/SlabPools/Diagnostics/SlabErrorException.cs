using System;

namespace SlabPools;

/// <summary>Thrown for a detected error when <see cref="SlabPoolsOptions.ThrowOnError"/> is set.</summary>
public sealed class SlabErrorException : InvalidOperationException
{
    /// <summary>Creates the exception from a report.</summary>
    public SlabErrorException(SlabErrorEventArgs error)
        : base((error ?? throw new ArgumentNullException(nameof(error))).Message)
    {
        Error = error;
    }

    /// <summary>The report.</summary>
    public SlabErrorEventArgs Error { get; }

    /// <summary>What went wrong.</summary>
    public SlabErrorKind Kind => Error.Kind;
}
