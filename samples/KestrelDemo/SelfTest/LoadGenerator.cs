using System;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Net.Http;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using System.Threading;
using System.Threading.Tasks;
using KestrelDemo.Api;

namespace KestrelDemo.SelfTest;

/// <summary>
/// A bounded concurrent load against the demo: <see cref="Workers"/> workers, each doing
/// <see cref="Rounds"/> rounds of an echo, a JSON report and a download, and every tenth round a
/// look at <c>/api/caches</c> and <c>/slabinfo</c>. Every answer is checked byte for byte; the
/// first failure stops all workers and is thrown as <see cref="SelfTestFailedException"/>.
/// </summary>
public sealed class LoadGenerator
{
    /// <summary>Concurrent clients, each on its own connection.</summary>
    public const int Workers = 8;

    /// <summary>Rounds per worker.</summary>
    public const int Rounds = 40;

    private const int MinEchoBytes = 1024;
    private const int MaxEchoBytes = 256 * 1024;
    private const int MaxDownloadMiB = 4;
    private const int MaxOrders = 500;

    private readonly HttpClient _client;
    private readonly string _kestrelCache;
    private Exception? _firstFailure;

    /// <summary>Creates a load against the server <paramref name="client"/> points at.</summary>
    /// <param name="client">A client whose base address is the demo.</param>
    /// <param name="kestrelCache">The cache Kestrel rents its blocks from, which the inspections look for.</param>
    public LoadGenerator(HttpClient client, string kestrelCache)
    {
        _client = client;
        _kestrelCache = kestrelCache;
    }

    /// <summary>What the load did.</summary>
    public LoadStatistics Statistics { get; } = new();

    /// <summary>Runs every worker to the end, or until the first failure or <paramref name="cancellationToken"/>.</summary>
    /// <param name="cancellationToken">Stops the load.</param>
    /// <returns>The load.</returns>
    /// <exception cref="SelfTestFailedException">An answer was wrong, a request failed, or the load was stopped.</exception>
    public async Task RunAsync(CancellationToken cancellationToken)
    {
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        Task[] workers = Enumerable.Range(0, Workers).Select(worker => Task.Run(() => WorkerAsync(worker, stop), CancellationToken.None)).ToArray();
        await Task.WhenAll(workers).ConfigureAwait(false);
        if (_firstFailure is SelfTestFailedException failed)
        {
            throw failed;
        }

        if (_firstFailure is not null)
        {
            throw new SelfTestFailedException($"a request failed: {_firstFailure.GetType().Name}: {_firstFailure.Message}", _firstFailure);
        }

        if (cancellationToken.IsCancellationRequested)
        {
            throw new SelfTestFailedException("the load did not finish in time.");
        }
    }

    private async Task WorkerAsync(int worker, CancellationTokenSource stop)
    {
        var random = new Random(worker);
        byte[] readBuffer = new byte[64 * 1024];
        try
        {
            for (int round = 0; round < Rounds && !stop.IsCancellationRequested; round++)
            {
                string where = string.Create(CultureInfo.InvariantCulture, $"worker {worker}, round {round}");
                await EchoAsync(random, where, stop.Token).ConfigureAwait(false);
                await JsonAsync(random.Next(10, MaxOrders + 1), (worker * Rounds) + round, where, stop.Token).ConfigureAwait(false);
                await DownloadAsync(random.Next(1, MaxDownloadMiB + 1), readBuffer, where, stop.Token).ConfigureAwait(false);
                if (round % 10 == 9)
                {
                    await InspectAsync(where, stop.Token).ConfigureAwait(false);
                }
            }
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            // another worker failed, or time ran out
        }
        catch (Exception e)
        {
            Interlocked.CompareExchange(ref _firstFailure, e, null);
            await stop.CancelAsync().ConfigureAwait(false);
        }
    }

    private async Task EchoAsync(Random random, string where, CancellationToken cancellationToken)
    {
        byte[] body = new byte[random.Next(MinEchoBytes, MaxEchoBytes + 1)];
        random.NextBytes(body);
        using var content = new ByteArrayContent(body);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
        using HttpResponseMessage response = await _client.PostAsync(new Uri("/echo", UriKind.Relative), content, cancellationToken).ConfigureAwait(false);
        EnsureOk(response, "POST /echo", where);
        byte[] echoed = await response.Content.ReadAsByteArrayAsync(cancellationToken).ConfigureAwait(false);
        if (!echoed.AsSpan().SequenceEqual(body))
        {
            int at = body.AsSpan().CommonPrefixLength(echoed);
            throw new SelfTestFailedException($"POST /echo of {body.Length} bytes came back as {echoed.Length} bytes differing from byte {at} on ({where}).");
        }

        Statistics.CountEcho(body.Length);
    }

    private async Task JsonAsync(int count, int seed, string where, CancellationToken cancellationToken)
    {
        string path = string.Create(CultureInfo.InvariantCulture, $"/json?n={count}&seed={seed}");
        using HttpResponseMessage response = await _client.GetAsync(new Uri(path, UriKind.Relative), cancellationToken).ConfigureAwait(false);
        EnsureOk(response, "GET " + path, where);
        OrderReport? report;
        Stream body = await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
        await using (body.ConfigureAwait(false))
        {
            report = await JsonSerializer.DeserializeAsync(body, DemoJsonContext.Default.OrderReport, cancellationToken).ConfigureAwait(false);
        }

        // The same seed makes the same orders here, so every figure of the answer can be checked.
        OrderReport expected = OrderReport.Generate(count, seed);
        if (report is null
            || report.Count != count
            || !report.Orders.SequenceEqual(expected.Orders)
            || report.Total != expected.Total
            || report.Total != report.Orders.Sum(o => o.Amount)
            || report.Total != report.TotalByRegion.Values.Sum()
            || report.Largest != expected.Largest)
        {
            throw new SelfTestFailedException($"GET {path} answered a report that does not match the orders of seed {seed} ({where}).");
        }

        Statistics.CountDocument();
    }

    private async Task DownloadAsync(int mebibytes, byte[] buffer, string where, CancellationToken cancellationToken)
    {
        string path = string.Create(CultureInfo.InvariantCulture, $"/download?mb={mebibytes}");
        long expected = mebibytes * 1024L * 1024;
        using HttpResponseMessage response = await _client.GetAsync(new Uri(path, UriKind.Relative), HttpCompletionOption.ResponseHeadersRead, cancellationToken).ConfigureAwait(false);
        EnsureOk(response, "GET " + path, where);
        long offset = 0;
        Stream body = await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
        await using (body.ConfigureAwait(false))
        {
            int read;
            while ((read = await body.ReadAsync(buffer, cancellationToken).ConfigureAwait(false)) > 0)
            {
                if (offset + read > expected || !DownloadPattern.Matches(buffer.AsSpan(0, read), offset))
                {
                    throw new SelfTestFailedException($"GET {path} sent wrong bytes between offsets {offset} and {offset + read} ({where}).");
                }

                offset += read;
            }
        }

        if (offset != expected)
        {
            throw new SelfTestFailedException($"GET {path} sent {offset} bytes instead of {expected} ({where}).");
        }

        Statistics.CountDownload(offset);
    }

    private async Task InspectAsync(string where, CancellationToken cancellationToken)
    {
        CachesReport? caches = await _client.GetFromJsonAsync(new Uri("/api/caches", UriKind.Relative), DemoJsonContext.Default.CachesReport, cancellationToken).ConfigureAwait(false);
        if (caches is null || !caches.Caches.Any(c => c.Name == _kestrelCache && c.FastAllocations + c.SlowAllocations > 0))
        {
            throw new SelfTestFailedException($"GET /api/caches shows no allocation from {_kestrelCache}, so Kestrel is not renting from SlabPools ({where}).");
        }

        Statistics.CountInspection();
        string slabinfo = await _client.GetStringAsync(new Uri("/slabinfo", UriKind.Relative), cancellationToken).ConfigureAwait(false);
        if (!slabinfo.StartsWith("slabinfo - version:", StringComparison.Ordinal) || !slabinfo.Contains(_kestrelCache, StringComparison.Ordinal))
        {
            throw new SelfTestFailedException($"GET /slabinfo does not show a slabinfo table with {_kestrelCache} ({where}).");
        }

        Statistics.CountInspection();
    }

    private static void EnsureOk(HttpResponseMessage response, string request, string where)
    {
        if (!response.IsSuccessStatusCode)
        {
            throw new SelfTestFailedException($"{request} answered {(int)response.StatusCode} {response.ReasonPhrase} ({where}).");
        }
    }
}
