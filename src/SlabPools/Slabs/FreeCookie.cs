using System;
using System.Runtime.CompilerServices;
using System.Security.Cryptography;

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
/// Bytes 0..3 of a free object hold the free-list link (the index of the next free object).
/// Objects are therefore at least 16 bytes.
/// </summary>
internal static class FreeCookie
{
    internal const int MinObjectSize = 16;
    internal const int Offset = 8;

    private static readonly ulong s_secret = NewSecret();

    private static ulong NewSecret()
    {
        Span<byte> bytes = stackalloc byte[8];
        RandomNumberGenerator.Fill(bytes);
        return BitConverter.ToUInt64(bytes) | 1;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static ulong For(nint address) => (ulong)address ^ s_secret;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static unsafe bool IsMarked(nint address) => *(ulong*)(address + Offset) == For(address);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static unsafe void Mark(nint address) => *(ulong*)(address + Offset) = For(address);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static unsafe void Wipe(nint address) => *(ulong*)(address + Offset) = 0;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static unsafe int ReadLink(nint address) => *(int*)address;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static unsafe void WriteLink(nint address, int next) => *(int*)address = next;
}
