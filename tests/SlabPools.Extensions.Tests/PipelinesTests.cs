using System;
using System.IO.Pipelines;
using System.Linq;
using System.Threading.Tasks;
using Microsoft.Extensions.DependencyInjection;
using Xunit;

namespace SlabPools.Extensions.Tests;

public class PipelinesTests
{
    private const long TotalBytes = 6L << 20;

    [Fact]
    public async Task A_pipe_from_the_registered_options_carries_every_byte_in_slab_segments()
    {
        using ServiceProvider services = new ServiceCollection().AddSlabPools().BuildServiceProvider();
        var pipe = new Pipe(services.GetRequiredService<PipeOptions>());

        Task writing = WriteAsync(pipe.Writer, seed: 7);
        Task<long> reading = ReadAndVerifyAsync(pipe.Reader);
        await Task.WhenAll(writing, reading).WaitAsync(TimeSpan.FromSeconds(30));

        Assert.Equal(TotalBytes, await reading);
        SlabAllocator allocator = services.GetRequiredService<SlabAllocator>();
        SlabCacheInfo[] pinned = allocator.GetInfo().Where(c => c.Name.StartsWith("pinned-", StringComparison.Ordinal)).ToArray();

        // Segments came from the slab caches: several size classes (the 16 KiB minimum segment and up,
        // as asked), and all were given back.
        Assert.Contains(pinned, c => c.ObjectSize == SlabPoolsOptions.DefaultTransportBlockSize);
        Assert.Contains(pinned, c => c.ObjectSize > 64 * 1024);
        Assert.All(pinned, c => Assert.True(c.ObjectSize >= SlabPoolsOptions.DefaultTransportBlockSize, c.Name));
        Assert.True(pinned.Sum(c => c.FastAllocations + c.SlowAllocations) >= 100, allocator.FormatSlabInfo());
        Assert.All(pinned, c => Assert.Equal(0, c.ActiveObjects));
    }

    /// <summary>Writes <see cref="TotalBytes"/> bytes of <see cref="Expected"/> in chunks of random size, each into memory asked for with a random size hint.</summary>
    private static async Task WriteAsync(PipeWriter writer, int seed)
    {
        var random = new Random(seed);
        long position = 0;
        while (position < TotalBytes)
        {
            // Mostly small hints, some up to 256 KiB so that larger classes are used too.
            int hint = random.Next(4) == 0 ? random.Next(64 * 1024, 256 * 1024) : random.Next(1, 8 * 1024);
            Memory<byte> memory = writer.GetMemory(hint);
            int count = (int)Math.Min(Math.Min(memory.Length, random.Next(1, hint + 1)), TotalBytes - position);
            Span<byte> span = memory.Span[..count];
            for (int i = 0; i < span.Length; i++)
            {
                span[i] = Expected(position + i);
            }

            writer.Advance(count);
            position += count;
            if (random.Next(3) == 0)
            {
                await writer.FlushAsync();
            }
        }

        await writer.CompleteAsync();
    }

    private static async Task<long> ReadAndVerifyAsync(PipeReader reader)
    {
        long position = 0;
        while (true)
        {
            ReadResult result = await reader.ReadAsync();
            foreach (ReadOnlyMemory<byte> segment in result.Buffer)
            {
                ReadOnlySpan<byte> span = segment.Span;
                for (int i = 0; i < span.Length; i++)
                {
                    if (span[i] != Expected(position + i))
                    {
                        Assert.Fail($"byte {position + i} is {span[i]}, expected {Expected(position + i)}");
                    }
                }

                position += span.Length;
            }

            reader.AdvanceTo(result.Buffer.End);
            if (result.IsCompleted)
            {
                await reader.CompleteAsync();
                return position;
            }
        }
    }

    /// <summary>The byte at a position of the stream: varies in every bit position so that misplaced segments show.</summary>
    private static byte Expected(long position) => (byte)(position ^ (position >> 8) ^ (position >> 16) ^ 0x5A);
}
