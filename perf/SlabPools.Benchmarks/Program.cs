using System;
using System.Collections.Generic;
using System.Linq;
using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;
using SlabPools.Benchmarks;

// Runs the benchmarks that --filter selects (all of them with --filter '*'). They run with the
// suite's short job unless the command line names another (--job short, --job dry, ...); options
// such as --iterationCount adjust whichever job runs. The exit code is 1 when a benchmark failed
// or could not run, so scripts notice.
bool jobGiven = args.Any(a => a is "--job" or "-j" || a.StartsWith("--job=", StringComparison.Ordinal));
IEnumerable<Summary> summaries = BenchmarkSwitcher.FromAssembly(typeof(SuiteConfig).Assembly).Run(args, SuiteConfig.Create(useSuiteJob: !jobGiven));
bool failed = summaries.Any(s => s.HasCriticalValidationErrors || s.Reports.Any(r => !r.Success));
return failed ? 1 : 0;
