using BenchmarkDotNet.Filters;
using BenchmarkDotNet.Parameters;
using BenchmarkDotNet.Running;

namespace SlabPools.Benchmarks;

/// <summary>
/// Drops the cases that ask Kestrel's pool for more than its block size: it hands out 4096-byte
/// blocks only and throws for anything larger, so those rows would only report an exception.
/// </summary>
internal sealed class KestrelBlockSizeFilter : IFilter
{
    /// <summary>The category of benchmarks that rent from Kestrel's pool.</summary>
    internal const string Category = "Kestrel";

    public bool Predicate(BenchmarkCase benchmarkCase)
    {
        if (!benchmarkCase.Descriptor.HasCategory(Category))
        {
            return true;
        }

        foreach (ParameterInstance parameter in benchmarkCase.Parameters.Items)
        {
            if (parameter.Name == nameof(RentReturnBenchmarks.Size) && parameter.Value is int size && size > KestrelPool.BlockSize)
            {
                return false;
            }
        }

        return true;
    }
}
