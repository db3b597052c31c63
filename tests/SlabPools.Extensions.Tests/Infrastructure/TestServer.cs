using System;
using System.Linq;
using System.Net;
using System.Net.Http;
using System.Threading.Tasks;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace SlabPools.Extensions.Tests.Infrastructure;

/// <summary>Kestrel hosts on 127.0.0.1 with a port the system picks, and clients for them.</summary>
internal static class TestServer
{
    /// <summary>Arguments for WebApplication.CreateBuilder: no file watching of appsettings (nothing to watch in tests).</summary>
    internal static readonly string[] BuilderArgs = ["--hostBuilder:reloadConfigOnChange=false"];

    /// <summary>A WebApplication builder listening on 127.0.0.1 with a dynamic port and no log output.</summary>
    internal static WebApplicationBuilder CreateBuilder()
    {
        WebApplicationBuilder builder = WebApplication.CreateBuilder(BuilderArgs);
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        return builder;
    }

    /// <summary>Maps the test endpoints: <c>POST /echo</c> sends the body back through Kestrel's pipes, <c>GET /hello</c> answers 16 KiB.</summary>
    internal static void MapTestEndpoints(IEndpointRouteBuilder endpoints)
    {
        endpoints.MapPost("/echo", (Func<HttpContext, Task>)(async context =>
        {
            context.Response.ContentType = "application/octet-stream";
            await context.Request.BodyReader.CopyToAsync(context.Response.BodyWriter);
        }));
        endpoints.MapGet("/hello", (Func<HttpContext, Task>)(context => context.Response.Body.WriteAsync(Hello).AsTask()));
    }

    /// <summary>The body of <c>GET /hello</c>.</summary>
    internal static readonly byte[] Hello = Enumerable.Range(0, 16 * 1024).Select(i => (byte)('a' + (i % 26))).ToArray();

    /// <summary>The base address a started host listens on.</summary>
    internal static Uri AddressOf(IServiceProvider services)
    {
        string address = services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single();
        return new Uri(address);
    }

    /// <summary>A client for 127.0.0.1 that never uses a proxy, with a bounded timeout.</summary>
    internal static HttpClient CreateClient(Uri baseAddress) =>
        new(new SocketsHttpHandler { UseProxy = false, PooledConnectionLifetime = TimeSpan.FromMinutes(1) })
        {
            BaseAddress = baseAddress,
            Timeout = TimeSpan.FromSeconds(30),
        };

    /// <summary>A generic host that runs Kestrel on 127.0.0.1 (dynamic port) with the test endpoints, services added in the order the caller chooses.</summary>
    internal static IHostBuilder CreateGenericHost(Action<IServiceCollection> servicesBeforeKestrel, Action<IServiceCollection>? servicesAfterKestrel = null, ILoggerProvider? logs = null)
    {
        IHostBuilder builder = new HostBuilder()
            .ConfigureLogging(logging =>
            {
                if (logs is not null)
                {
                    logging.AddProvider(logs);
                }
            })
            .ConfigureServices(servicesBeforeKestrel)
            .ConfigureWebHost(web => web
                .UseKestrel(kestrel => kestrel.Listen(IPAddress.Loopback, 0))
                .ConfigureServices(services => services.AddRouting())
                .Configure(app => app.UseRouting().UseEndpoints(MapTestEndpoints)));
        if (servicesAfterKestrel is not null)
        {
            builder.ConfigureServices(servicesAfterKestrel);
        }

        return builder;
    }
}
