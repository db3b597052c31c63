using System;
using System.Threading;
using System.Threading.Tasks;
using KestrelDemo.Api;
using Microsoft.Extensions.Hosting;
using SlabPools;

namespace KestrelDemo.Monitoring;

/// <summary>Records the caches' totals into <see cref="ReservedHistory"/> once a second while the demo runs.</summary>
public sealed class HistorySampler : BackgroundService
{
    /// <summary>Time between samples.</summary>
    public static readonly TimeSpan Period = TimeSpan.FromSeconds(1);

    private readonly SlabAllocator _allocator;
    private readonly ReservedHistory _history;
    private readonly TimeProvider _time;

    /// <summary>Creates the sampler.</summary>
    /// <param name="allocator">The allocator whose caches are sampled.</param>
    /// <param name="history">Where samples go.</param>
    public HistorySampler(SlabAllocator allocator, ReservedHistory history)
    {
        ArgumentNullException.ThrowIfNull(allocator);
        _allocator = allocator;
        _history = history;
        _time = allocator.Options.TimeProvider;
    }

    /// <inheritdoc />
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(Period, _time);
        try
        {
            do
            {
                SlabTotals totals = SlabTotals.Of(_allocator);
                _history.Add(new HistorySample(_time.GetUtcNow().ToUnixTimeMilliseconds(), totals.ReservedBytes, totals.ActiveBytes));
            }
            while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false));
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // The host is stopping, or is disposed without being stopped first.
        }
    }
}
