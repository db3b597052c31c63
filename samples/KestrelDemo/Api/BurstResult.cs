namespace KestrelDemo.Api;

/// <summary>The answer of <c>POST /burst</c>.</summary>
/// <param name="Buffers">Buffers rented and returned.</param>
/// <param name="Bytes">Their total size.</param>
/// <param name="HeldMilliseconds">How long they were held before going back.</param>
/// <param name="ReservedBefore">Bytes the caches held before the burst.</param>
/// <param name="ReservedWhileHeld">Bytes the caches held with every buffer rented.</param>
/// <param name="ReservedAfter">Bytes the caches hold once every buffer is back: the memory the flusher gives back later.</param>
public sealed record BurstResult(int Buffers, long Bytes, int HeldMilliseconds, long ReservedBefore, long ReservedWhileHeld, long ReservedAfter);
