namespace SlabPools;

/// <summary>The misuse a slab cache detected.</summary>
public enum SlabErrorKind
{
    /// <summary>An object was given back while it was already free.</summary>
    DoubleFree,

    /// <summary>A free object was written to (its poison pattern or free-list link was damaged).</summary>
    UseAfterFree,

    /// <summary>Bytes past the requested size of an object were overwritten.</summary>
    RedZoneOverwrite,

    /// <summary>Something given back did not come from this cache (or not from the start of an object).</summary>
    ForeignObject,
}
