using System;
using SlabPools.Reports;

// perf reports that are not timings: memory waste and memory given back when idle.
//   waste <out-dir>           allocated/requested for two size mixes, every pool
//   idle <out-dir> [seconds]  reserved bytes, GC heap and RSS each second after a burst, every pool
//   idle-one <pool> <seconds> one pool in this process (run by 'idle' in a child process)
return args.Length > 0 ? args[0] switch
{
    "waste" when args.Length >= 2 => WasteReport.Run(args[1]),
    "idle" when args.Length >= 2 => IdleReport.Run(args[1], args.Length > 2 ? int.Parse(args[2], System.Globalization.CultureInfo.InvariantCulture) : 40),
    "idle-one" when args.Length >= 3 => IdleReport.RunOne(args[1], int.Parse(args[2], System.Globalization.CultureInfo.InvariantCulture)),
    _ => Usage(),
} : Usage();

static int Usage()
{
    Console.Error.WriteLine("usage: waste <out-dir> | idle <out-dir> [seconds] | idle-one <pool> <seconds>");
    return 2;
}
