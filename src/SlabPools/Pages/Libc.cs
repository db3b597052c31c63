using System;
using System.Runtime.InteropServices;

namespace SlabPools.Pages;

/// <summary>The two libc calls the native page allocator needs, for Unix-like systems only.</summary>
internal static partial class Libc
{
    private const int ProtRead = 0x1;
    private const int ProtWrite = 0x2;
    private const int MapPrivate = 0x02;

    // MAP_ANONYMOUS is 0x20 on Linux and 0x1000 on the BSDs and macOS.
    private static readonly int s_mapAnonymous = OperatingSystem.IsLinux() ? 0x20 : 0x1000;

    [LibraryImport("libc", EntryPoint = "mmap", SetLastError = true)]
    private static partial nint Mmap(nint addr, nuint length, int prot, int flags, int fd, nint offset);

    [LibraryImport("libc", EntryPoint = "munmap", SetLastError = true)]
    private static partial int Munmap(nint addr, nuint length);

    /// <summary>Maps <paramref name="length"/> bytes of zeroed, private, anonymous memory; 0 on failure.</summary>
    internal static nint MapAnonymous(nuint length)
    {
        nint p = Mmap(0, length, ProtRead | ProtWrite, MapPrivate | s_mapAnonymous, -1, 0);
        return p == -1 ? 0 : p;
    }

    /// <summary>Returns a mapping to the operating system.</summary>
    internal static void Unmap(nint address, nuint length)
    {
        if (Munmap(address, length) != 0)
        {
            // munmap only fails for arguments we never pass (unaligned or unmapped ranges): a bug.
            throw new InvalidOperationException($"munmap({address:X}, {length}) failed with errno {Marshal.GetLastPInvokeError()}.");
        }
    }
}
