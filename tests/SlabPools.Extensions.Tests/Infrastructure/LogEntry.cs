using System;
using Microsoft.Extensions.Logging;

namespace SlabPools.Extensions.Tests.Infrastructure;

/// <summary>One captured log entry.</summary>
internal sealed record LogEntry(string Category, LogLevel Level, EventId EventId, string Message, Exception? Exception);
