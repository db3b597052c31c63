using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Linq;
using System.Threading;
using Microsoft.Extensions.Time.Testing;
using SlabPools.Pages;
using SlabPools.Tests.Infrastructure;
using Xunit;

namespace SlabPools.Tests.Reliability;

/// <summary>
/// The flusher's timer firing late, never, or at odd places: a clock that never moves, jumps of
/// hours at odd moments, ticks racing with rents and returns on other threads, timers that fire on
/// the thread that arms them, and intervals shorter than a timer can count. FakeTimeProvider runs
/// due callbacks synchronously on whichever thread calls into it: Advance, or Change on a thread
/// that arms a timer while another thread advances.
/// </summary>
public class TimerFaultTests
{
    private static readonly TimeSpan Interval = SlabPoolsOptions.DefaultFlushInterval;

    private static SlabAllocator NewAllocator(FakeTimeProvider time, PageAllocator? native = null) =>
        new(new SlabPoolsOptions { TimeProvider = time, Topology = new NodeTopology([0]) }) { NativePages = native ?? NativePageAllocator.Shared };

    [Fact]
    public void A_clock_that_never_moves_keeps_the_memory_and_breaks_nothing()
    {
        var time = new FakeTimeProvider();
        using SlabAllocator allocator = NewAllocator(time);
        var log = new ErrorLog(allocator);
        var faces = new Faces(allocator);
        long peak = 0;
        for (int round = 0; round < 5; round++)
        {
            var random = new Random(21); // the same burst every round
            var burst = Enumerable.Range(0, 400).Select(i => faces.Rent(Faces.All[i % Faces.All.Length], Faces.RandomSize(random))).ToList();
            burst.ForEach(b => b.Stamp(round));
            Assert.Equal(burst.Count(b => !b.Uncached), Faces.Active(allocator));
            long reserved = Faces.Reserved(allocator);
            if (round == 0)
            {
                peak = reserved;
            }
            else
            {
                Assert.Equal(peak, reserved); // the kept memory is reused: nothing new, nothing lost
            }

            Assert.Equal(0, Faces.ReturnAll(burst));
            Assert.Equal(peak, Faces.Reserved(allocator)); // kept: nothing is released without the clock
        }

        Assert.Equal(0, allocator.FlusherTicks);
        Assert.True(allocator.ArmedFlushers > 0); // armed, waiting for a clock that never moves
        Assert.Empty(log.Errors);
        Assert.Equal(0, Faces.Active(allocator));

        // The memory was only waiting for the clock: Shrink gives it all back.
        Assert.Equal(peak, allocator.Shrink());
        Assert.Equal(0, Faces.Reserved(allocator));
    }

    [Fact]
    public void Jumps_of_hours_between_rent_and_return_and_in_the_middle_of_a_burst_release_nothing_in_use()
    {
        var time = new FakeTimeProvider();
        var pages = new NativePageAllocator();
        using SlabAllocator allocator = NewAllocator(time, pages);
        var log = new ErrorLog(allocator);
        var faces = new Faces(allocator);
        var random = new Random(22);
        var live = new List<TestBuffer>();
        void RentSome(int count)
        {
            for (int i = 0; i < count; i++)
            {
                TestBuffer b = faces.Rent(Faces.All[random.Next(Faces.All.Length)], Faces.RandomSize(random));
                b.Stamp(random.Next());
                live.Add(b);
            }
        }

        void Check()
        {
            Assert.All(live, b => Assert.True(b.Verify(), $"{b.Face} buffer of {b.Length} bytes changed"));
            Assert.Equal(live.Count(b => !b.Uncached), Faces.Active(allocator));
        }

        RentSome(300);
        time.Advance(TimeSpan.FromHours(5));        // between rent and return
        Check();
        RentSome(75);
        time.Advance(TimeSpan.FromDays(3));         // in the middle of a burst
        Check();
        RentSome(75);
        Check();

        var half = live.Where((_, i) => i % 2 == 0).ToList();
        live = live.Where((_, i) => i % 2 == 1).ToList();
        Assert.Equal(0, Faces.ReturnAll(half));
        long beforeJump = Faces.Reserved(allocator);
        time.Advance(TimeSpan.FromHours(7));        // half returned, half still in use
        Check();
        live.ForEach(b => b.Stamp(7));              // still writable: no slab in use was released
        Check();
        Assert.True(Faces.Reserved(allocator) < beforeJump, "the flusher released nothing after a 7-hour jump");

        Assert.Equal(0, Faces.ReturnAll(live));
        live.Clear();
        time.Advance(TimeSpan.FromHours(9));
        Assert.Equal(0, Faces.Active(allocator));
        Assert.Equal(0, allocator.ArmedFlushers);   // quiescent again
        long ticks = allocator.FlusherTicks;
        time.Advance(TimeSpan.FromDays(30));
        Assert.Equal(ticks, allocator.FlusherTicks);
        Assert.Empty(log.Errors);

        allocator.Shrink();
        Assert.Equal(0, Faces.Reserved(allocator));
        Assert.Equal(0, pages.BytesInUse);
    }

    /// <summary>
    /// A fake clock whose timers also fire on the thread that arms them: every Change that arms a
    /// timer first runs the callbacks of all of them. FakeTimeProvider does the same while another
    /// thread advances it (Change wakes the waiters that are due, on the calling thread), but only
    /// now and then; this does it every time.
    /// </summary>
    private sealed class InlineFiringTimeProvider(FakeTimeProvider clock) : TimeProvider
    {
        [ThreadStatic]
        private static bool t_firing;

        private readonly List<(TimerCallback Callback, object? State)> _timers = new();
        private int _inlineCallbacks;

        public int InlineCallbacks => Volatile.Read(ref _inlineCallbacks);

        public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
        {
            lock (_timers)
            {
                _timers.Add((callback, state));
            }

            return new InlineTimer(this, clock.CreateTimer(callback, state, dueTime, period));
        }

        private void FireAll()
        {
            if (t_firing)
            {
                return;
            }

            (TimerCallback Callback, object? State)[] all;
            lock (_timers)
            {
                all = _timers.ToArray();
            }

            t_firing = true;
            try
            {
                foreach ((TimerCallback callback, object? state) in all)
                {
                    Interlocked.Increment(ref _inlineCallbacks);
                    callback(state);
                }
            }
            finally
            {
                t_firing = false;
            }
        }

        private sealed class InlineTimer(InlineFiringTimeProvider owner, ITimer inner) : ITimer
        {
            public bool Change(TimeSpan dueTime, TimeSpan period)
            {
                bool changed = inner.Change(dueTime, period);
                if (dueTime != Timeout.InfiniteTimeSpan)
                {
                    owner.FireAll();
                }

                return changed;
            }

            public void Dispose() => inner.Dispose();

            public System.Threading.Tasks.ValueTask DisposeAsync() => inner.DisposeAsync();
        }
    }

    [Fact]
    public void A_timer_that_fires_on_the_thread_that_arms_it_never_flushes_from_inside_a_slow_path()
    {
        var clock = new FakeTimeProvider();
        var time = new InlineFiringTimeProvider(clock);
        using var allocator = new SlabAllocator(new SlabPoolsOptions { TimeProvider = time, Topology = new NodeTopology([0]) });
        var log = new ErrorLog(allocator);
        var faces = new Faces(allocator);
        for (int round = 0; round < 3; round++)
        {
            var random = new Random(24 + round);
            var burst = Enumerable.Range(0, 2000).Select(i => faces.Rent(Faces.All[i % Faces.All.Length], 16 + random.Next(5000))).ToList();
            burst.ForEach(b => b.Stamp(round));
            Assert.Equal(0, Faces.ReturnAll(burst));
            Assert.Equal(0, Faces.Active(allocator));
        }

        Assert.True(time.InlineCallbacks > 0);
        Assert.Empty(log.Errors);

        // The flusher still runs when the clock moves.
        long reserved = Faces.Reserved(allocator);
        clock.Advance(Interval);
        clock.Advance(Interval);
        Assert.True(Faces.Reserved(allocator) < reserved);
        Assert.Empty(log.Errors);
    }

    /// <summary>
    /// The timers of <see cref="TimeProvider.System"/> on a fake clock: System.Threading.Timer counts
    /// whole milliseconds, takes a period of 0 as "no period" (a 0.5 ms period fires once) and runs a
    /// due time of 0 as soon as it can, never inside Change (here: at the next advance).
    /// </summary>
    private sealed class WholeMillisecondTimeProvider(FakeTimeProvider clock) : TimeProvider
    {
        private static TimeSpan Due(TimeSpan t) =>
            t == Timeout.InfiniteTimeSpan ? t : (long)t.TotalMilliseconds == 0 ? TimeSpan.FromTicks(1) : TimeSpan.FromMilliseconds((long)t.TotalMilliseconds);

        private static TimeSpan Period(TimeSpan t) =>
            t == Timeout.InfiniteTimeSpan || (long)t.TotalMilliseconds == 0 ? Timeout.InfiniteTimeSpan : TimeSpan.FromMilliseconds((long)t.TotalMilliseconds);

        public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period) =>
            new MillisecondTimer(clock.CreateTimer(callback, state, Due(dueTime), Period(period)));

        private sealed class MillisecondTimer(ITimer inner) : ITimer
        {
            public bool Change(TimeSpan dueTime, TimeSpan period) => inner.Change(Due(dueTime), Period(period));

            public void Dispose() => inner.Dispose();

            public System.Threading.Tasks.ValueTask DisposeAsync() => inner.DisposeAsync();
        }
    }

    [Fact]
    public void A_flush_interval_below_a_millisecond_still_flushes_every_time()
    {
        var clock = new FakeTimeProvider();
        var time = new WholeMillisecondTimeProvider(clock);
        var pages = new NativePageAllocator();
        using var allocator = new SlabAllocator(new SlabPoolsOptions { TimeProvider = time, FlushInterval = TimeSpan.FromTicks(5000), Topology = new NodeTopology([0]) }) { NativePages = pages };
        var log = new ErrorLog(allocator);
        var faces = new Faces(allocator);
        for (int round = 0; round < 3; round++)
        {
            // One size per face, so that the empty slab each cache keeps is small beside the burst.
            var burst = Enumerable.Range(0, 2000).Select(i => faces.Rent(Faces.All[i % Faces.All.Length], 4096)).ToList();
            burst.ForEach(b => b.Stamp(round));
            long peak = Faces.Reserved(allocator);
            Assert.Equal(0, Faces.ReturnAll(burst));
            for (int ms = 0; ms < 10; ms++)
            {
                clock.Advance(TimeSpan.FromMilliseconds(1));
            }

            long reserved = Faces.Reserved(allocator);
            Assert.True(reserved <= peak / 10, $"round {round}: {reserved} of {peak} bytes still reserved 10 ms after the burst");
        }

        Assert.Empty(log.Errors);
        Assert.Equal(0, allocator.ArmedFlushers);
    }

    [Theory]
    [InlineData(1, 300)]    // every advance is one tick of every armed flusher
    [InlineData(360, 10)]   // an hour at a time: ticks back to back for as long as the workers keep the caches active
    public void Ticks_racing_with_rents_and_returns_on_other_threads_hand_nothing_out_twice(int intervalsPerAdvance, int maxAdvances)
    {
        const int Workers = 2;
        const int OperationsPerWorker = 15_000;
        var time = new FakeTimeProvider();
        var pages = new NativePageAllocator();
        using var allocator = new SlabAllocator(new SlabPoolsOptions { TimeProvider = time }) { NativePages = pages };
        var log = new ErrorLog(allocator);
        var faces = new Faces(allocator);
        var handoff = new ConcurrentQueue<TestBuffer>[Workers];
        for (int i = 0; i < Workers; i++)
        {
            handoff[i] = new ConcurrentQueue<TestBuffer>();
        }

        long badStamps = 0, progress = 0, ticksAtEnd = 0;
        int done = 0;
        bool advancerDone = false;
        long ticksAtStart = allocator.FlusherTicks;

        void Worker(int id)
        {
            var random = new Random(300 + id);
            var mine = new List<TestBuffer>();
            // At least OperationsPerWorker, and on until the advancer is through (bounded), so that
            // ticks land among the operations however the three threads are scheduled.
            for (int op = 0; op < OperationsPerWorker || (!Volatile.Read(ref advancerDone) && op < 20 * OperationsPerWorker); op++)
            {
                Interlocked.Increment(ref progress);
                int action = random.Next(10);
                if ((action < 5 && mine.Count < 64) || mine.Count == 0)
                {
                    TestBuffer b = faces.Rent(Faces.All[random.Next(Faces.All.Length)], Faces.RandomSize(random));
                    b.Stamp(random.Next());
                    mine.Add(b);
                }
                else if (action < 9)
                {
                    int k = random.Next(mine.Count);
                    TestBuffer b = mine[k];
                    mine[k] = mine[^1];
                    mine.RemoveAt(mine.Count - 1);
                    if (action == 8)
                    {
                        handoff[(id + 1) % Workers].Enqueue(b);
                    }
                    else
                    {
                        Interlocked.Add(ref badStamps, Faces.ReturnAll([b]));
                    }
                }
                else
                {
                    var theirs = new List<TestBuffer>();
                    while (handoff[id].TryDequeue(out TestBuffer? b))
                    {
                        theirs.Add(b);
                    }

                    Interlocked.Add(ref badStamps, Faces.ReturnAll(theirs));
                }
            }

            Interlocked.Add(ref badStamps, Faces.ReturnAll(mine));
            if (Interlocked.Increment(ref done) == Workers)
            {
                ticksAtEnd = allocator.FlusherTicks;
            }
        }

        void Advancer()
        {
            // Each advance waits for the workers to make some progress, so that ticks land among
            // their rents and returns; bounded by a count and by the workers' fixed work.
            long seen = 0;
            try
            {
                for (int i = 0; i < maxAdvances && Volatile.Read(ref done) < Workers; i++)
                {
                    while (Volatile.Read(ref progress) < seen + 200 && Volatile.Read(ref done) < Workers)
                    {
                        Thread.Yield();
                    }

                    seen = Volatile.Read(ref progress);
                    time.Advance(Interval * intervalsPerAdvance);
                }
            }
            finally
            {
                Volatile.Write(ref advancerDone, true);
            }
        }

        Run.Parallel(() => Worker(0), () => Worker(1), Advancer);
        foreach (ConcurrentQueue<TestBuffer> queue in handoff)
        {
            badStamps += Faces.ReturnAll(queue);
        }

        Assert.Equal(0, badStamps);
        Assert.Empty(log.Errors);
        Assert.True(ticksAtEnd - ticksAtStart >= 10, $"only {ticksAtEnd - ticksAtStart} ticks while the workers ran");
        Assert.True(Faces.Active(allocator) == 0, Faces.Busy(allocator));
        Assert.All(allocator.GetInfo(), i => Assert.Equal(i.Slabs * i.ObjectsPerSlab, i.TotalObjects));
        allocator.Shrink();
        Assert.Equal(0, Faces.Reserved(allocator));
        Assert.Equal(0, pages.BytesInUse);
    }
}
