using System.Collections.Generic;
using System.Text.Json.Serialization;

namespace KestrelDemo.Api;

/// <summary>
/// Source-generated JSON metadata for every document the demo sends or reads (no reflection, so
/// the demo stays trimming- and AOT-friendly). Property names are camelCase.
/// </summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase)]
[JsonSerializable(typeof(OrderReport))]
[JsonSerializable(typeof(CachesReport))]
[JsonSerializable(typeof(IReadOnlyList<HistorySample>))]
[JsonSerializable(typeof(BurstResult))]
[JsonSerializable(typeof(ShrinkResult))]
public sealed partial class DemoJsonContext : JsonSerializerContext;
