using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using SlabPools;

// A first, small version of the demo: a slab allocator and its slabinfo over HTTP on loopback.
var builder = WebApplication.CreateBuilder(args);
builder.WebHost.UseUrls(builder.Configuration["urls"] ?? "http://127.0.0.1:5080");
var allocator = new SlabAllocator();
var app = builder.Build();
app.MapGet("/slabinfo", () => Results.Text(allocator.FormatSlabInfo()));
app.Lifetime.ApplicationStarted.Register(() => System.Console.WriteLine($"SlabPools demo listening on {string.Join(", ", app.Urls)} (GET /slabinfo)"));
app.Run();
