using System;
using System.Diagnostics;
using System.Threading;
using System.Threading.Tasks;
using KestrelDemo.Monitoring;
using SlabPools;

namespace KestrelDemo.SelfTest;

/// <summary>
/// Samples the caches' reserved bytes every few milliseconds while the load runs, and keeps the
/// slabinfo table of the highest sample: the caches at the peak.
/// </summary>
public sealed class PeakRecorder : IAsyncDisposable
{
    private static readonly TimeSpan Period = TimeSpan.FromMilliseconds(25);

    private readonly SlabAllocator _allocator;
    private readonly CancellationTokenSource _stop = new();
    private readonly Stopwatch _elapsed = Stopwatch.StartNew();
    private readonly Task _sampling;

    private PeakRecorder(SlabAllocator allocator)
    {
        _allocator = allocator;
        Table = allocator.FormatSlabInfo();
        _sampling = Task.Run(SampleAsync);
    }

    /// <summary>The highest sum of <see cref="SlabCacheInfo.BytesReserved"/> seen.</summary>
    public long PeakReservedBytes { get; private set; }

    /// <summary>When the peak was seen, from the start of the recording.</summary>
    public TimeSpan PeakAt { get; private set; }

    /// <summary><see cref="SlabAllocator.FormatSlabInfo"/>, read as the peak was seen.</summary>
    public string Table { get; private set; }

    /// <summary>Starts sampling <paramref name="allocator"/>.</summary>
    /// <param name="allocator">The allocator.</param>
    /// <returns>The recorder; dispose it to stop.</returns>
    public static PeakRecorder Start(SlabAllocator allocator) => new(allocator);

    private async Task SampleAsync()
    {
        using var timer = new PeriodicTimer(Period);
        do
        {
            Sample();
        }
        while (await timer.WaitForNextTickAsync(_stop.Token).ConfigureAwait(false));
    }

    private void Sample()
    {
        long reserved = SlabTotals.Of(_allocator).ReservedBytes;
        if (reserved > PeakReservedBytes)
        {
            PeakReservedBytes = reserved;
            PeakAt = _elapsed.Elapsed;
            Table = _allocator.FormatSlabInfo();
        }
    }

    /// <summary>Stops sampling after one last sample; the figures stay readable.</summary>
    /// <returns>The stop.</returns>
    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        try
        {
            await _sampling.ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            // the sampling loop ends this way
        }

        Sample();
        _stop.Dispose();
    }
}
