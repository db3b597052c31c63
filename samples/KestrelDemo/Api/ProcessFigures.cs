namespace KestrelDemo.Api;

/// <summary>Figures of the whole process, beside the slab caches' own.</summary>
/// <param name="ManagedHeapBytes">Bytes in use on the GC heap (<c>GC.GetTotalMemory(false)</c>).</param>
/// <param name="WorkingSetBytes">Physical memory mapped into the process.</param>
/// <param name="Gen0Collections">Generation 0 garbage collections so far.</param>
/// <param name="Gen1Collections">Generation 1 garbage collections so far.</param>
/// <param name="Gen2Collections">Generation 2 garbage collections so far.</param>
public sealed record ProcessFigures(long ManagedHeapBytes, long WorkingSetBytes, int Gen0Collections, int Gen1Collections, int Gen2Collections);
