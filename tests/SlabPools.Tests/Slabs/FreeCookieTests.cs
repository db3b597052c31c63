using System.Collections.Generic;
using SlabPools.Slabs;
using Xunit;

namespace SlabPools.Tests.Slabs;

public class FreeCookieTests
{
    [Fact]
    public void Secrets_are_odd_distinct_and_random_in_every_bit()
    {
        // 64 draws: a bit that is fixed (1 in every draw, or 0 in every draw) by chance has odds
        // of 2^-63 per bit; a secret made from a GUID's fixed version or variant bits shows here.
        var seen = new HashSet<ulong>();
        ulong all = ulong.MaxValue;
        ulong any = 0;
        for (int i = 0; i < 64; i++)
        {
            ulong secret = FreeCookie.NewSecret();
            Assert.Equal(1UL, secret & 1);
            Assert.True(seen.Add(secret), "the same secret was drawn twice");
            all &= secret;
            any |= secret;
        }

        Assert.Equal(1UL, all);
        Assert.Equal(ulong.MaxValue, any);
    }
}
