using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Jobs;
using Perfolizer.Horology;

namespace SlabPools.Benchmarks;

/// <summary>
/// The configuration shared by the whole suite: one short job, so that every scenario runs in one
/// sitting (well under twenty minutes on two cores), plus the Median column. Ratio columns appear
/// because every class has a baseline.
/// </summary>
internal static class SuiteConfig
{
    /// <summary>The job every benchmark runs with unless the command line asks for another.</summary>
    internal static Job SuiteJob { get; } = Job.Default
        .WithId("Suite")
        .WithLaunchCount(1)
        .WithWarmupCount(3)
        .WithIterationCount(10)
        .WithIterationTime(TimeInterval.FromMilliseconds(200));

    /// <summary>The suite's configuration.</summary>
    /// <param name="useSuiteJob">
    /// False when the command line names a job: the suite's job then stays out of the way, as it
    /// would otherwise replace the one asked for.
    /// </param>
    internal static IConfig Create(bool useSuiteJob)
    {
        ManualConfig config = ManualConfig.Create(DefaultConfig.Instance)
            .AddColumn(StatisticColumn.Median)
            .AddFilter(new KestrelBlockSizeFilter());
        return useSuiteJob ? config.AddJob(SuiteJob.AsDefault()) : config;
    }
}
