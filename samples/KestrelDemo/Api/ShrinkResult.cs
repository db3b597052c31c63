namespace KestrelDemo.Api;

/// <summary>The answer of <c>POST /shrink</c>.</summary>
/// <param name="ReleasedBytes">Bytes released to the page allocators.</param>
/// <param name="ReservedAfter">Bytes the caches hold afterwards.</param>
public sealed record ShrinkResult(long ReleasedBytes, long ReservedAfter);
