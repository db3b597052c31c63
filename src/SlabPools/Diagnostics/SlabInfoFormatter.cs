using System.Collections.Generic;
using System.Globalization;
using System.Text;

namespace SlabPools.Diagnostics;

/// <summary>Formats cache snapshots as a <c>/proc/slabinfo</c>-style table.</summary>
internal static class SlabInfoFormatter
{
    internal const string Header = "# name                   <active_objs> <num_objs> <objsize> <objperslab> <slabs> <partial> <reserved_kb> <hit%> <memory> <aliases>";

    internal static string Format(IReadOnlyList<SlabCacheInfo> caches)
    {
        var sb = new StringBuilder();
        sb.Append("slabinfo - version: 2.1 (SlabPools)\n");
        sb.Append(Header).Append('\n');
        foreach (SlabCacheInfo c in caches)
        {
            sb.Append(CultureInfo.InvariantCulture, $"{c.Name,-24} {c.ActiveObjects,13} {c.TotalObjects,10} {c.ObjectSize,9} {c.ObjectsPerSlab,12} {c.Slabs,7} {c.PartialSlabs,9} {c.BytesReserved / 1024,13} {c.HitRate * 100,6:0.0} {c.Memory,8}");
            if (c.Aliases.Count > 0)
            {
                sb.Append(' ').Append(string.Join(',', c.Aliases));
            }

            sb.Append('\n');
        }

        return sb.ToString();
    }
}
