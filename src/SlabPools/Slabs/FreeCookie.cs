using System;
using System.Runtime.CompilerServices;

namespace SlabPools.Slabs;

/// <summary>
/// The mark every free object carries in its bytes 8..15: the object's address mixed with a secret
/// drawn at start-up. Objects are marked when they are freed (and when their slab is made) and the
/// mark is wiped when they are handed out, so:
/// <list type="bullet">
/// <item>a free of an object that bears its mark is a double free (user data equal to a secret,
/// address-dependent 64-bit value has odds of 2^-64): one load and one compare on the free path;</item>
/// <item>a free object whose mark is gone when it is handed out again was written after it was
/// returned: a use after free, caught in release mode at the cost of the same load.</item>
/// </list>
/// Bytes 0..3 of a free object hold the free-list link (the index of the next free object) in
/// caches of objects under 1 KiB; larger ones keep the links beside the slab (<see cref="Slab.Links"/>).
/// Objects are therefore at least 16 bytes.
/// </summary>
internal static class FreeCookie
{
    internal const int MinObjectSize = 16;
    internal const int Offset = 8;

    private static readonly ulong s_secret = NewSecret();

    /// <summary>
    /// A random, odd 64-bit secret from the operating system's secure random source, without
    /// System.Security.Cryptography: on Linux its RandomNumberGenerator loads OpenSSL, about 5 MiB
    /// of resident memory in a process that otherwise never needs it. <see cref="Guid.NewGuid"/>
    /// draws from the same source (getrandom/arc4random) in the runtime itself. A version-4 GUID
    /// has 6 fixed bits (in bytes 7 and 8), so the secret XORs the low half of one GUID with the
    /// high half of another: every bit has at least one random source.
    /// </summary>
    internal static ulong NewSecret()
    {
        Span<byte> a = stackalloc byte[16];
        Span<byte> b = stackalloc byte[16];
        Guid.NewGuid().TryWriteBytes(a);
        Guid.NewGuid().TryWriteBytes(b);
        return (BitConverter.ToUInt64(a) ^ BitConverter.ToUInt64(b[8..])) | 1;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static ulong For(nint address) => (ulong)address ^ s_secret;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static unsafe bool IsMarked(nint address) => *(ulong*)(address + Offset) == For(address);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static unsafe void Mark(nint address) => *(ulong*)(address + Offset) = For(address);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static unsafe void Wipe(nint address) => *(ulong*)(address + Offset) = 0;
}
