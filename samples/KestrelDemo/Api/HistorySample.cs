namespace KestrelDemo.Api;

/// <summary>One point of the reserved-memory history (<c>GET /api/history</c>).</summary>
/// <param name="UnixTimeMilliseconds">When it was taken.</param>
/// <param name="ReservedBytes">Bytes the slab caches held then.</param>
/// <param name="ActiveBytes">Bytes handed out then.</param>
public sealed record HistorySample(long UnixTimeMilliseconds, long ReservedBytes, long ActiveBytes);
