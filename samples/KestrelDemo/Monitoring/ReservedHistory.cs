using System;
using System.Threading;
using KestrelDemo.Api;

namespace KestrelDemo.Monitoring;

/// <summary>
/// The last <see cref="Capacity"/> samples of the caches' totals, one a second, so that the live
/// page draws the recent past as soon as it opens. Thread-safe.
/// </summary>
public sealed class ReservedHistory
{
    /// <summary>Samples kept: two minutes at one a second, what the live page's chart shows.</summary>
    public const int Capacity = 120;

    private readonly Lock _lock = new();
    private readonly HistorySample[] _ring = new HistorySample[Capacity];
    private int _next;
    private int _count;

    /// <summary>Appends a sample, dropping the oldest when full.</summary>
    /// <param name="sample">The sample.</param>
    public void Add(HistorySample sample)
    {
        ArgumentNullException.ThrowIfNull(sample);
        lock (_lock)
        {
            _ring[_next] = sample;
            _next = (_next + 1) % Capacity;
            _count = Math.Min(_count + 1, Capacity);
        }
    }

    /// <summary>The samples kept, oldest first.</summary>
    /// <returns>A copy.</returns>
    public HistorySample[] Snapshot()
    {
        lock (_lock)
        {
            var samples = new HistorySample[_count];
            int start = (_next - _count + Capacity) % Capacity;
            for (int i = 0; i < _count; i++)
            {
                samples[i] = _ring[(start + i) % Capacity];
            }

            return samples;
        }
    }
}
