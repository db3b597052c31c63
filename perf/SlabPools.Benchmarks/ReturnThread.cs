using System;
using System.Threading;

namespace SlabPools.Benchmarks;

/// <summary>
/// A dedicated thread that gives buffers back to their pool: the calling thread hands it buffers
/// through a <see cref="SpscRing{T}"/> and the thread releases them, so every buffer is rented on
/// one thread and returned on another.
/// </summary>
/// <remarks>
/// While buffers flow, both sides spin (yielding the processor, never sleeping). A consumer that
/// found the ring empty for a while parks on a semaphore; the producer wakes it whenever it has to
/// wait (ring full, or waiting for the ring to drain) and at the start of each batch. The parked
/// flag is a Dekker handshake: the consumer sets it with a full fence and then looks at the ring
/// again; the producer publishes, then clears the flag with a compare-and-swap (also a full fence).
/// Either the consumer sees the new item or the producer sees the flag.
/// </remarks>
internal sealed class ReturnThread<T> : IDisposable
    where T : class
{
    // Empty-ring spins (SpinWait.SpinOnce calls) before the consumer parks.
    private const int SpinsBeforePark = 100;

    private readonly SpscRing<T> _ring;
    private readonly Action<T> _release;
    private readonly SemaphoreSlim _wake = new(0);
    private readonly Thread _thread;
    private int _parked;
    private volatile bool _stopping;

    internal ReturnThread(string name, int capacity, Action<T> release)
    {
        _ring = new SpscRing<T>(capacity);
        _release = release;
        _thread = new Thread(Run) { IsBackground = true, Name = name };
        _thread.Start();
    }

    /// <summary>Producer: call before a batch, so that a parked consumer is awake when the first buffer arrives.</summary>
    internal void BeginBatch() => WakeIfParked();

    /// <summary>Producer: hands a buffer over, waiting while the ring is full.</summary>
    internal void Send(T item)
    {
        if (!_ring.TryEnqueue(item))
        {
            SendSlow(item);
        }
    }

    private void SendSlow(T item)
    {
        var spinner = default(SpinWait);
        while (!_ring.TryEnqueue(item))
        {
            WakeIfParked();
            spinner.SpinOnce(sleep1Threshold: -1);
        }
    }

    /// <summary>Producer: waits until every buffer sent so far has been released.</summary>
    internal void WaitUntilDrained()
    {
        var spinner = default(SpinWait);
        while (!_ring.IsEmpty)
        {
            WakeIfParked();
            spinner.SpinOnce(sleep1Threshold: -1);
        }
    }

    private void WakeIfParked()
    {
        if (Interlocked.CompareExchange(ref _parked, 0, 1) == 1)
        {
            _wake.Release();
        }
    }

    private void Run()
    {
        var spinner = default(SpinWait);
        while (true)
        {
            if (_ring.TryPeek(out T item))
            {
                _release(item);
                _ring.Advance();
                spinner = default;
                continue;
            }

            if (_stopping)
            {
                return;
            }

            if (spinner.Count < SpinsBeforePark)
            {
                spinner.SpinOnce(sleep1Threshold: -1);
                continue;
            }

            Interlocked.Exchange(ref _parked, 1);
            if (_ring.IsEmpty && !_stopping)
            {
                _wake.Wait();
            }

            Volatile.Write(ref _parked, 0);
            spinner = default;
        }
    }

    /// <summary>Releases what is still in the ring, then stops the thread.</summary>
    public void Dispose()
    {
        _stopping = true;
        _wake.Release();
        _thread.Join();
        _wake.Dispose();
    }
}
