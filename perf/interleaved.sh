#!/usr/bin/env bash
# Single-thread rent and return with every pool in one process, rounds interleaved, ratios taken
# per round (see perf/SlabPools.Benchmarks/Interleaved.cs for why), written to
# perf/results/Interleaved.md.
#   perf/interleaved.sh [seconds-per-size] [sizes, comma-separated]
# Defaults: 10 seconds for each of 64,3000,4096,4097,70000 bytes. Run it on a quiet machine.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-10}"
sizes="${2:-64,3000,4096,4097,70000}"
dotnet build perf/SlabPools.Benchmarks -c Release -v q -nologo
out=perf/results/Interleaved.md
tmp=$(mktemp)
dotnet perf/SlabPools.Benchmarks/bin/Release/net10.0/SlabPools.Benchmarks.dll interleaved "$tmp" "$seconds" "$sizes"
commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
if [ -n "$(git status --porcelain -- . ':!perf/results' 2>/dev/null)" ]; then
  commit="$commit (with uncommitted changes)"
fi
{
  echo "Produced by perf/interleaved.sh on $(date -u '+%Y-%m-%d %H:%M UTC') at commit $commit with arguments: $seconds $sizes"
  echo
  cat "$tmp"
} >"$out"
rm -f "$tmp"
echo "interleaved: wrote $out"
