using System;
using Xunit;

namespace SlabPools.Tests.Classes;

public class SizeClassesTests
{
    [Fact]
    public void Table_is_ascending_and_contains_the_linux_odd_classes()
    {
        ReadOnlySpan<int> sizes = SlabPools.SizeClasses.Sizes;
        for (int i = 1; i < sizes.Length; i++)
        {
            Assert.True(sizes[i] > sizes[i - 1]);
            Assert.Equal(0, sizes[i] % 8);
        }

        Assert.Equal(16, sizes[0]);
        Assert.Equal(SlabPools.SizeClasses.MaxSize, sizes[^1]);
        Assert.Contains(96, sizes.ToArray());
        Assert.Contains(192, sizes.ToArray());
        Assert.Contains(4096, sizes.ToArray());
        Assert.Equal("kmalloc-192", SlabPools.SizeClasses.NameOf(192));
    }

    [Fact]
    public void Lookup_returns_the_smallest_class_that_fits_for_every_size()
    {
        ReadOnlySpan<int> sizes = SlabPools.SizeClasses.Sizes;
        int expected = 0;
        for (int size = 0; size <= SlabPools.SizeClasses.MaxSize; size++)
        {
            while (sizes[expected] < size)
            {
                expected++;
            }

            int index = SlabPools.SizeClasses.IndexOf(size);
            if (index != expected)
            {
                Assert.Fail($"size {size}: got class {index}, expected {expected}");
            }

            // The fast paths' variant, for 1..MaxSize, indexes per-class tables unchecked.
            if (size > 0 && SlabPools.SizeClasses.IndexOfInRange(size) != expected)
            {
                Assert.Fail($"size {size}: IndexOfInRange gave class {SlabPools.SizeClasses.IndexOfInRange(size)}, expected {expected}");
            }
        }

        Assert.Equal(-1, SlabPools.SizeClasses.IndexOf(SlabPools.SizeClasses.MaxSize + 1));
        Assert.Equal(96, SlabPools.SizeClasses.ClassSizeOf(65 + 24));
        Assert.Equal(192, SlabPools.SizeClasses.ClassSizeOf(177));
        Assert.Equal(-1, SlabPools.SizeClasses.IndexOfExact(100));
        Assert.Equal(SlabPools.SizeClasses.IndexOf(4096), SlabPools.SizeClasses.IndexOfExact(4096));
    }

    [Fact]
    public void Waste_over_log_uniform_sizes_is_at_most_ten_percent()
    {
        var random = new Random(1234);
        double sumRatio = 0;
        long requested = 0, allocated = 0;
        const int samples = 200_000;
        for (int i = 0; i < samples; i++)
        {
            int size = (int)Math.Round(Math.Pow(2, 4 + (random.NextDouble() * 12))); // 16 B .. 64 KiB
            int cls = SlabPools.SizeClasses.ClassSizeOf(size);
            sumRatio += (double)cls / size;
            requested += size;
            allocated += cls;
        }

        double meanRatio = sumRatio / samples;
        double bytesRatio = (double)allocated / requested;
        Assert.InRange(meanRatio, 1.0, 1.10);
        Assert.InRange(bytesRatio, 1.0, 1.10);
    }

    [Fact]
    public void No_size_above_128_bytes_wastes_more_than_an_eighth()
    {
        for (int size = 129; size <= SlabPools.SizeClasses.MaxSize; size++)
        {
            double ratio = (double)SlabPools.SizeClasses.ClassSizeOf(size) / size;
            if (ratio > 1.125)
            {
                Assert.Fail($"size {size} wastes {ratio:0.000}");
            }
        }
    }
}
