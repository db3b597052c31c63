using System;

namespace KestrelDemo.SelfTest;

/// <summary>A check of the self test failed; the message says which and with what figures.</summary>
public sealed class SelfTestFailedException : Exception
{
    /// <summary>Creates the exception.</summary>
    public SelfTestFailedException()
    {
    }

    /// <summary>Creates the exception.</summary>
    /// <param name="message">What failed.</param>
    public SelfTestFailedException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception.</summary>
    /// <param name="message">What failed.</param>
    /// <param name="innerException">The error behind it.</param>
    public SelfTestFailedException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
