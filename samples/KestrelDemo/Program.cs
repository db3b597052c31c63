using System;
using System.Linq;
using KestrelDemo;
using KestrelDemo.SelfTest;
using Microsoft.AspNetCore.Builder;

// dotnet run --project samples/KestrelDemo [-- --urls http://127.0.0.1:5081]   the service and its live page
// dotnet run --project samples/KestrelDemo -- --selftest                         load, check, watch memory come back
if (args.Contains(SelfTestRunner.Switch, StringComparer.Ordinal))
{
    return await SelfTestRunner.RunAsync(args.Where(a => a != SelfTestRunner.Switch).ToArray());
}

await using WebApplication app = DemoApp.Build(args);
app.Lifetime.ApplicationStarted.Register(() =>
    Console.WriteLine($"SlabPools demo listening on {string.Join(", ", app.Urls)} (live slab view at /, slabinfo at /slabinfo); Ctrl+C stops it."));
await app.RunAsync();
return 0;
