using System;
using System.Collections.Generic;
using System.Globalization;
using System.Runtime.CompilerServices;
using System.Text;
using System.Threading;
using SlabPools.Slabs;

namespace SlabPools.Derived;

/// <summary>
/// Debugging of an array cache (the derived allocator for single-object array slabs): poisoning of
/// returned arrays, tracking of the last rent and return, and a check that returned arrays are the
/// pool's own. Runs only when the cache was made with debugging; the fast path tests one field.
/// </summary>
internal sealed class ArrayDebug
{
    private readonly ArraySlabCache _cache;
    private readonly bool _poison;
    private readonly bool _track;
    private readonly bool _ownership;

    // Every array the cache made (for ownership checks and tracking); weak, so dropped arrays vanish.
    private readonly ConditionalWeakTable<byte[], Record> _records = new();

    // Protects the fields of every Record.
    private readonly Lock _lock = new();

    private sealed class Record
    {
        internal string? RentStack;
        internal int RentThread;
        internal DateTime RentTime;
        internal string? ReturnStack;
        internal int ReturnThread;
        internal DateTime ReturnTime;
        internal bool Live;
    }

    internal ArrayDebug(ArraySlabCache cache, SlabDebugFlags flags)
    {
        _cache = cache;
        _poison = (flags & SlabDebugFlags.Poison) != 0;
        _track = (flags & SlabDebugFlags.Track) != 0;
        _ownership = (flags & SlabDebugFlags.ConsistencyChecks) != 0;
    }

    internal void OnCreated(byte[] array)
    {
        _records.AddOrUpdate(array, new Record());
        Poison(array);
    }

    internal void Poison(byte[] array)
    {
        if (_poison)
        {
            array.AsSpan().Fill(PoisonBehavior.Free);
        }
    }

    internal void OnRent(byte[] array)
    {
        if (_poison)
        {
            // Bytes 8..15 hold the free mark, checked by the caller.
            Span<byte> span = array;
            int bad = span[..8].IndexOfAnyExcept(PoisonBehavior.Free);
            if (bad < 0)
            {
                bad = span[16..].IndexOfAnyExcept(PoisonBehavior.Free);
                bad = bad < 0 ? -1 : bad + 16;
            }

            if (bad >= 0)
            {
                _cache.ReportWrittenAfterReturn(array, $"poison overwritten in a returned array of {array.Length} bytes: byte {bad} is 0x{array[bad]:x2}, expected 0x{PoisonBehavior.Free:x2}");
            }
        }

        if (_track && _records.TryGetValue(array, out Record? r))
        {
            lock (_lock)
            {
                r.RentStack = TrackBehavior.Capture();
                r.RentThread = Environment.CurrentManagedThreadId;
                r.RentTime = DateTime.UtcNow;
                r.Live = true;
            }
        }
    }

    /// <summary>Checks and records a return; false when the array must be refused.</summary>
    internal bool OnReturn(byte[] array)
    {
        bool ours = _records.TryGetValue(array, out Record? r);
        if (_ownership && !ours)
        {
            _cache.ReportForeign(array);
            return false;
        }

        if (_track && r is not null)
        {
            lock (_lock)
            {
                r.ReturnStack = TrackBehavior.Capture();
                r.ReturnThread = Environment.CurrentManagedThreadId;
                r.ReturnTime = DateTime.UtcNow;
                r.Live = false;
            }
        }

        return true;
    }

    internal string? Describe(byte[] array)
    {
        if (!_records.TryGetValue(array, out Record? r))
        {
            return "INFO: the pool has no record of this array\n";
        }

        var sb = new StringBuilder();
        lock (_lock)
        {
            if (r.RentStack is not null)
            {
                sb.Append(CultureInfo.InvariantCulture, $"INFO: rented by thread {r.RentThread} at {r.RentTime:O}\n").Append(TrackBehavior.Indent(r.RentStack));
            }

            if (r.ReturnStack is not null)
            {
                sb.Append(CultureInfo.InvariantCulture, $"INFO: returned by thread {r.ReturnThread} at {r.ReturnTime:O}\n").Append(TrackBehavior.Indent(r.ReturnStack));
            }
        }

        return sb.Length == 0 ? null : sb.ToString();
    }

    internal List<(string Stack, DateTime Time)> Outstanding()
    {
        var result = new List<(string, DateTime)>();
        lock (_lock)
        {
            foreach (KeyValuePair<byte[], Record> pair in _records)
            {
                if (pair.Value.Live)
                {
                    result.Add((pair.Value.RentStack ?? "", pair.Value.RentTime));
                }
            }
        }

        return result;
    }
}
