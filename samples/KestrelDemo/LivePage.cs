using System;
using System.IO;
using System.Threading.Tasks;
using Microsoft.AspNetCore.Http;

namespace KestrelDemo;

/// <summary>The live slab view served at <c>GET /</c>: one self-contained HTML page embedded in the assembly.</summary>
public static class LivePage
{
    private const string ResourceName = "KestrelDemo.Page.index.html";

    // Only this page's inline style and script, and requests to this server: nothing from elsewhere.
    private const string ContentSecurityPolicy = "default-src 'none'; connect-src 'self'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:";

    private static readonly Lazy<byte[]> Html = new(Load);

    /// <summary>Writes the page.</summary>
    /// <param name="context">The request.</param>
    /// <returns>The write.</returns>
    public static Task WriteAsync(HttpContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        byte[] html = Html.Value;
        HttpResponse response = context.Response;
        response.ContentType = "text/html; charset=utf-8";
        response.ContentLength = html.Length;
        response.Headers.CacheControl = "no-store";
        response.Headers.ContentSecurityPolicy = ContentSecurityPolicy;
        return response.BodyWriter.WriteAsync(html, context.RequestAborted).AsTask();
    }

    private static byte[] Load()
    {
        using Stream stream = typeof(LivePage).Assembly.GetManifestResourceStream(ResourceName)
            ?? throw new InvalidOperationException($"The embedded resource '{ResourceName}' is missing from the build.");
        using var copy = new MemoryStream();
        stream.CopyTo(copy);
        return copy.ToArray();
    }
}
