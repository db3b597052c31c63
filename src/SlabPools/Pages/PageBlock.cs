using System;

namespace SlabPools.Pages;

/// <summary>
/// A run of memory handed out by a <see cref="PageAllocator"/>: a start address and a length.
/// Managed (pinned) blocks also carry the array that owns the bytes, so the block keeps it alive.
/// </summary>
/// <remarks>
/// The address never moves for the lifetime of the block: pinned managed blocks live on the pinned
/// object heap and native blocks are outside the GC heap.
/// </remarks>
public readonly struct PageBlock : IEquatable<PageBlock>
{
    /// <summary>Creates a block description.</summary>
    /// <param name="address">First byte of the block.</param>
    /// <param name="length">Length of the block in bytes.</param>
    /// <param name="array">The pinned array that holds the bytes, or <see langword="null"/> for native memory.</param>
    public PageBlock(nint address, nuint length, byte[]? array = null)
    {
        Address = address;
        Length = length;
        Array = array;
    }

    /// <summary>First byte of the block.</summary>
    public nint Address { get; }

    /// <summary>Length in bytes.</summary>
    public nuint Length { get; }

    /// <summary>The pinned managed array holding the bytes, or <see langword="null"/> for native memory.</summary>
    public byte[]? Array { get; }

    /// <summary><see langword="true"/> when the block describes no memory.</summary>
    public bool IsEmpty => Address == 0;

    /// <inheritdoc/>
    public bool Equals(PageBlock other) => Address == other.Address && Length == other.Length && ReferenceEquals(Array, other.Array);

    /// <inheritdoc/>
    public override bool Equals(object? obj) => obj is PageBlock other && Equals(other);

    /// <inheritdoc/>
    public override int GetHashCode() => HashCode.Combine(Address, Length);

    /// <summary>Compares two blocks.</summary>
    public static bool operator ==(PageBlock left, PageBlock right) => left.Equals(right);

    /// <summary>Compares two blocks.</summary>
    public static bool operator !=(PageBlock left, PageBlock right) => !left.Equals(right);
}
