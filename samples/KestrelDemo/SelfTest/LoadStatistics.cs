using System.Threading;

namespace KestrelDemo.SelfTest;

/// <summary>What the load did, counted by every worker at once.</summary>
public sealed class LoadStatistics
{
    private long _echoes;
    private long _documents;
    private long _downloads;
    private long _inspections;
    private long _bytesEchoed;
    private long _bytesDownloaded;

    /// <summary>Verified <c>POST /echo</c> requests.</summary>
    public long Echoes => Volatile.Read(ref _echoes);

    /// <summary>Verified <c>GET /json</c> requests.</summary>
    public long Documents => Volatile.Read(ref _documents);

    /// <summary>Verified <c>GET /download</c> requests.</summary>
    public long Downloads => Volatile.Read(ref _downloads);

    /// <summary>Verified <c>GET /api/caches</c> and <c>GET /slabinfo</c> requests.</summary>
    public long Inspections => Volatile.Read(ref _inspections);

    /// <summary>Every verified request.</summary>
    public long Requests => Echoes + Documents + Downloads + Inspections;

    /// <summary>Bytes sent to <c>POST /echo</c> and received back.</summary>
    public long BytesEchoed => Volatile.Read(ref _bytesEchoed);

    /// <summary>Bytes received from <c>GET /download</c>.</summary>
    public long BytesDownloaded => Volatile.Read(ref _bytesDownloaded);

    internal void CountEcho(int bytes)
    {
        Interlocked.Increment(ref _echoes);
        Interlocked.Add(ref _bytesEchoed, bytes);
    }

    internal void CountDocument() => Interlocked.Increment(ref _documents);

    internal void CountDownload(long bytes)
    {
        Interlocked.Increment(ref _downloads);
        Interlocked.Add(ref _bytesDownloaded, bytes);
    }

    internal void CountInspection() => Interlocked.Increment(ref _inspections);
}
