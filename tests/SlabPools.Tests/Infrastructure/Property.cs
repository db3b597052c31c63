using System;
using CsCheck;

namespace SlabPools.Tests.Infrastructure;

/// <summary>
/// Property checks with CsCheck generators on a fixed seed, so that every run tries the same inputs
/// (CsCheck's <c>Sample</c> draws fresh seeds on several threads). A failure names the input and
/// its CsCheck seed. The properties share state between iterations (one allocator, one error log),
/// which would mislead a shrinker, so failing inputs are reported as drawn.
/// </summary>
internal static class Property
{
    /// <summary>Runs <paramref name="assert"/> on <paramref name="iter"/> values drawn from <paramref name="gen"/>, one after another on the calling thread.</summary>
    public static void ForAll<T>(Gen<T> gen, Action<T> assert, ulong seed, int iter = 500)
    {
        var pcg = new PCG(1, seed);
        for (int i = 0; i < iter; i++)
        {
            ulong state = pcg.State;
            T value = gen.Generate(pcg, null, out _);
            try
            {
                assert(value);
            }
            catch (Exception e)
            {
                throw new InvalidOperationException($"Property failed for {Check.Print(value)} (iteration {i}, CsCheck seed \"{pcg.ToString(state)}\"): {e.Message}", e);
            }
        }
    }

    /// <summary>As <see cref="ForAll{T}(Gen{T}, Action{T}, ulong, int)"/> for pairs.</summary>
    public static void ForAll<T1, T2>(Gen<(T1, T2)> gen, Action<T1, T2> assert, ulong seed, int iter = 500) =>
        ForAll(gen, t => assert(t.Item1, t.Item2), seed, iter);

    /// <summary>As <see cref="ForAll{T}(Gen{T}, Action{T}, ulong, int)"/> for triples.</summary>
    public static void ForAll<T1, T2, T3>(Gen<(T1, T2, T3)> gen, Action<T1, T2, T3> assert, ulong seed, int iter = 500) =>
        ForAll(gen, t => assert(t.Item1, t.Item2, t.Item3), seed, iter);
}
