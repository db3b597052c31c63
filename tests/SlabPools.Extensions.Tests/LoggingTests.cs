using System.Buffers;
using System.Linq;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using SlabPools.Extensions.Tests.Infrastructure;
using Xunit;

namespace SlabPools.Extensions.Tests;

public class LoggingTests
{
    [Fact]
    public void A_double_dispose_is_logged_at_error_level_with_the_report()
    {
        var logs = new CapturingLoggerProvider();
        using ServiceProvider services = new ServiceCollection()
            .AddLogging(logging => logging.AddProvider(logs))
            .AddSlabPools()
            .BuildServiceProvider();
        IMemoryOwner<byte> owner = services.GetRequiredService<MemoryPool<byte>>().Rent();

        owner.Dispose();
        owner.Dispose();

        LogEntry entry = Assert.Single(logs.Of("SlabPools"));
        Assert.Equal(LogLevel.Error, entry.Level);
        Assert.Equal("SlabErrorDetected", entry.EventId.Name);
        Assert.Contains("DoubleFree", entry.Message);
        Assert.Contains("BUG pinned-4096: double free", entry.Message);
        Assert.Contains("FIX pinned-4096:", entry.Message);
    }

    [Fact]
    public void With_ThrowOnError_the_error_is_logged_before_it_is_thrown()
    {
        var logs = new CapturingLoggerProvider();
        using ServiceProvider services = new ServiceCollection()
            .AddLogging(logging => logging.AddProvider(logs))
            .AddSlabPools(o => o.ThrowOnError = true)
            .BuildServiceProvider();
        ArrayPool<byte> pool = services.GetRequiredService<ArrayPool<byte>>();
        byte[] array = pool.Rent(300);
        pool.Return(array);

        SlabErrorException e = Assert.Throws<SlabErrorException>(() => pool.Return(array));

        Assert.Equal(SlabErrorKind.DoubleFree, e.Kind);
        Assert.Equal(e.Message, logs.Of("SlabPools").Single(l => l.Level == LogLevel.Error).Message.Split(":\n", 2)[1]);
    }

    [Fact]
    public void Nothing_is_logged_while_nothing_goes_wrong()
    {
        var logs = new CapturingLoggerProvider();
        using ServiceProvider services = new ServiceCollection()
            .AddLogging(logging => logging.AddProvider(logs))
            .AddSlabPools()
            .BuildServiceProvider();

        services.GetRequiredService<MemoryPool<byte>>().Rent().Dispose();

        Assert.Empty(logs.Of("SlabPools"));
    }
}
