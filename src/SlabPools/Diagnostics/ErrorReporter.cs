using System;
using System.Globalization;
using System.Text;
using System.Threading;

namespace SlabPools.Diagnostics;

/// <summary>
/// Turns a detected error into a report in SLUB's shape (a BUG line naming the cache and the
/// problem, INFO lines, a hex dump around the object, a FIX line saying what was done to carry on),
/// counts it, raises it and, when asked, throws it.
/// </summary>
internal sealed class ErrorReporter
{
    private readonly bool _throwOnError;
    private long _doubleFrees;
    private long _useAfterFrees;
    private long _redZones;
    private long _foreign;

    internal ErrorReporter(bool throwOnError) => _throwOnError = throwOnError;

    /// <summary>Raised for every report, before any exception is thrown.</summary>
    internal event EventHandler<SlabErrorEventArgs>? ErrorDetected;

    /// <summary>Called for every report (metrics and logging hook in without an event handler).</summary>
    internal Action<SlabErrorEventArgs>? Observer { get; set; }

    internal object? Sender { get; set; }

    internal long Count(SlabErrorKind kind) => kind switch
    {
        SlabErrorKind.DoubleFree => Volatile.Read(ref _doubleFrees),
        SlabErrorKind.UseAfterFree => Volatile.Read(ref _useAfterFrees),
        SlabErrorKind.RedZoneOverwrite => Volatile.Read(ref _redZones),
        _ => Volatile.Read(ref _foreign),
    };

    internal long Total => Volatile.Read(ref _doubleFrees) + Volatile.Read(ref _useAfterFrees) + Volatile.Read(ref _redZones) + Volatile.Read(ref _foreign);

    /// <summary>Builds, counts and raises a report. Throws <see cref="SlabErrorException"/> when configured to.</summary>
    /// <param name="kind">The problem.</param>
    /// <param name="cacheName">The cache.</param>
    /// <param name="problem">One line: what was seen.</param>
    /// <param name="fix">One line: what was done to carry on.</param>
    /// <param name="objectAddress">The object's address, or 0.</param>
    /// <param name="objectOffset">The object's offset in its slab, or -1.</param>
    /// <param name="dumpLength">Bytes of the object to dump (0 for none).</param>
    /// <param name="info">Extra INFO lines (stack traces), or null.</param>
    internal unsafe void Report(SlabErrorKind kind, string cacheName, string problem, string fix, nint objectAddress = 0, long objectOffset = -1, int dumpLength = 0, string? info = null)
    {
        switch (kind)
        {
            case SlabErrorKind.DoubleFree: Interlocked.Increment(ref _doubleFrees); break;
            case SlabErrorKind.UseAfterFree: Interlocked.Increment(ref _useAfterFrees); break;
            case SlabErrorKind.RedZoneOverwrite: Interlocked.Increment(ref _redZones); break;
            default: Interlocked.Increment(ref _foreign); break;
        }

        var sb = new StringBuilder();
        sb.Append(CultureInfo.InvariantCulture, $"BUG {cacheName}: {KindText(kind)}: {problem}").Append('\n');
        if (objectAddress != 0)
        {
            sb.Append(CultureInfo.InvariantCulture, $"INFO: object 0x{objectAddress:x} at offset {objectOffset} in its slab").Append('\n');
        }

        sb.Append(CultureInfo.InvariantCulture, $"INFO: thread {Environment.CurrentManagedThreadId} at {DateTime.UtcNow:O}").Append('\n');
        if (!string.IsNullOrEmpty(info))
        {
            sb.Append(info);
            if (!info.EndsWith('\n'))
            {
                sb.Append('\n');
            }
        }

        if (objectAddress != 0 && dumpLength > 0)
        {
            AppendHexDump(sb, (byte*)objectAddress, Math.Min(dumpLength, 64));
        }

        sb.Append("FIX ").Append(cacheName).Append(": ").Append(fix);
        var args = new SlabErrorEventArgs(kind, cacheName, sb.ToString(), objectOffset);
        Observer?.Invoke(args);
        ErrorDetected?.Invoke(Sender, args);
        if (_throwOnError)
        {
            throw new SlabErrorException(args);
        }
    }

    internal static string KindText(SlabErrorKind kind) => kind switch
    {
        SlabErrorKind.DoubleFree => "double free",
        SlabErrorKind.UseAfterFree => "use after free",
        SlabErrorKind.RedZoneOverwrite => "red zone overwritten",
        _ => "foreign object",
    };

    private static unsafe void AppendHexDump(StringBuilder sb, byte* p, int length)
    {
        for (int row = 0; row < length; row += 16)
        {
            sb.Append(CultureInfo.InvariantCulture, $"Object {row:x8}:");
            for (int i = row; i < Math.Min(row + 16, length); i++)
            {
                sb.Append(CultureInfo.InvariantCulture, $" {p[i]:x2}");
            }

            sb.Append('\n');
        }
    }
}
