using System;

namespace KestrelDemo;

/// <summary>
/// The bytes of <c>GET /download</c>: the byte at offset <c>i</c> is <c>i % 251</c> (a prime, so
/// the pattern does not line up with buffer sizes and a misplaced segment is caught).
/// </summary>
public static class DownloadPattern
{
    private const int Period = 251;

    // Many periods back to back, so that a span is filled or checked with a few block copies.
    private static readonly byte[] Periods = CreatePeriods(Period * 64);

    /// <summary>Writes the pattern's bytes from <paramref name="offset"/> into <paramref name="destination"/>.</summary>
    /// <param name="destination">Where to write.</param>
    /// <param name="offset">The offset in the download of the first byte of <paramref name="destination"/>.</param>
    public static void Fill(Span<byte> destination, long offset)
    {
        while (!destination.IsEmpty)
        {
            ReadOnlySpan<byte> source = Slice(offset, destination.Length);
            source.CopyTo(destination);
            destination = destination[source.Length..];
            offset += source.Length;
        }
    }

    /// <summary>Whether <paramref name="data"/> holds the pattern's bytes from <paramref name="offset"/>.</summary>
    /// <param name="data">Received bytes.</param>
    /// <param name="offset">The offset in the download of the first byte of <paramref name="data"/>.</param>
    /// <returns><see langword="true"/> when every byte is right.</returns>
    public static bool Matches(ReadOnlySpan<byte> data, long offset)
    {
        while (!data.IsEmpty)
        {
            ReadOnlySpan<byte> expected = Slice(offset, data.Length);
            if (!data[..expected.Length].SequenceEqual(expected))
            {
                return false;
            }

            data = data[expected.Length..];
            offset += expected.Length;
        }

        return true;
    }

    private static ReadOnlySpan<byte> Slice(long offset, int length)
    {
        int start = (int)(offset % Period);
        return Periods.AsSpan(start, Math.Min(length, Periods.Length - start));
    }

    private static byte[] CreatePeriods(int length)
    {
        var bytes = new byte[length];
        for (int i = 0; i < bytes.Length; i++)
        {
            bytes[i] = (byte)(i % Period);
        }

        return bytes;
    }
}
