using System.Runtime.CompilerServices;
using Microsoft.AspNetCore.Connections;

namespace SlabPools.Extensions.Kestrel;

/// <summary>
/// Reads and writes the internal <c>MemoryPoolFactory</c> property of Kestrel's
/// <c>SocketTransportOptions</c> without referencing ASP.NET Core: unsafe accessors name the type by
/// string, bind on first call, and are understood by the trimmer and the AOT compiler (no
/// reflection). They are only called with an instance of that type, so its assembly is loaded.
/// </summary>
/// <remarks>
/// The property is internal to Kestrel (set by the transport from the container's
/// <see cref="IMemoryPoolFactory{T}"/>), so a later Kestrel may drop or rename it; the calls then
/// throw <see cref="System.MissingMethodException"/>, which the caller reports.
/// </remarks>
internal static class SocketTransportAccess
{
    internal const string OptionsTypeName = "Microsoft.AspNetCore.Server.Kestrel.Transport.Sockets.SocketTransportOptions";

    private const string OptionsType = OptionsTypeName + ", Microsoft.AspNetCore.Server.Kestrel.Transport.Sockets";

    [UnsafeAccessor(UnsafeAccessorKind.Method, Name = "get_MemoryPoolFactory")]
    internal static extern IMemoryPoolFactory<byte>? GetMemoryPoolFactory([UnsafeAccessorType(OptionsType)] object options);

    [UnsafeAccessor(UnsafeAccessorKind.Method, Name = "set_MemoryPoolFactory")]
    internal static extern void SetMemoryPoolFactory([UnsafeAccessorType(OptionsType)] object options, IMemoryPoolFactory<byte> factory);
}
