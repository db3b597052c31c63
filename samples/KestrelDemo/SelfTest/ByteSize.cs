using System.Globalization;

namespace KestrelDemo.SelfTest;

/// <summary>Formats byte counts for people.</summary>
public static class ByteSize
{
    /// <summary>Formats <paramref name="bytes"/> as B, KiB or MiB.</summary>
    /// <param name="bytes">A count of bytes.</param>
    /// <returns>For example <c>12.3 MiB</c>.</returns>
    public static string Format(long bytes) => bytes switch
    {
        < 1024 => bytes.ToString(CultureInfo.InvariantCulture) + " B",
        < 1024 * 1024 => (bytes / 1024.0).ToString("0.0", CultureInfo.InvariantCulture) + " KiB",
        _ => (bytes / (1024.0 * 1024)).ToString("0.0", CultureInfo.InvariantCulture) + " MiB",
    };
}
