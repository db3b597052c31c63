using System.Globalization;
using Microsoft.AspNetCore.Http;

namespace KestrelDemo;

/// <summary>Reads bounded integer arguments from a request's query string.</summary>
public static class QueryArguments
{
    /// <summary>
    /// Reads <paramref name="name"/> as an integer from <paramref name="minimum"/> to
    /// <paramref name="maximum"/>, or <paramref name="defaultValue"/> when it is absent.
    /// </summary>
    /// <param name="request">The request.</param>
    /// <param name="name">The argument's name.</param>
    /// <param name="defaultValue">The value when the argument is absent.</param>
    /// <param name="minimum">The smallest value allowed.</param>
    /// <param name="maximum">The largest value allowed.</param>
    /// <param name="value">The value read.</param>
    /// <param name="error">Why the argument was refused, in words for the caller; <see langword="null"/> when it was accepted.</param>
    /// <returns><see langword="true"/> when the argument is absent or valid.</returns>
    public static bool TryGetInt(HttpRequest request, string name, int defaultValue, int minimum, int maximum, out int value, out string? error)
    {
        string? text = request.Query[name];
        if (string.IsNullOrEmpty(text))
        {
            value = defaultValue;
            error = null;
            return true;
        }

        if (int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out value) && value >= minimum && value <= maximum)
        {
            error = null;
            return true;
        }

        error = $"'{name}' must be an integer from {minimum} to {maximum} (was '{text}').";
        return false;
    }
}
