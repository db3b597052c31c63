using System;
using System.Linq;
using KestrelDemo;
using KestrelDemo.SelfTest;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Options;

// dotnet run --project samples/KestrelDemo [-- --urls http://127.0.0.1:5081]   the service and its live page
// dotnet run --project samples/KestrelDemo -- --selftest                         load, check, watch memory come back
if (args.Contains(SelfTestRunner.Switch, StringComparer.Ordinal))
{
    return await SelfTestRunner.RunAsync(args.Where(a => a != SelfTestRunner.Switch).ToArray());
}

try
{
    await using WebApplication app = DemoApp.Build(args);
    app.Lifetime.ApplicationStarted.Register(() =>
        Console.WriteLine($"SlabPools demo listening on {string.Join(", ", app.Urls)} (live slab view at /, slabinfo at /slabinfo); Ctrl+C stops it."));
    await app.RunAsync();
    return 0;
}
catch (OptionsValidationException e)
{
    // SlabPools validates its options when the host is built or started; the message names the setting.
    Console.Error.WriteLine("KestrelDemo cannot start: " + e.Message);
    return 1;
}
