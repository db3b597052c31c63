#!/usr/bin/env bash
# A/B of this tree's SlabPools against a baseline commit's, both in one process, rounds interleaved
# (perf/SlabPools.AB): what a change does to the single-thread fast paths, measured in the same
# moments of the machine for both sides, which separate BenchmarkDotNet runs cannot give on a
# shared machine. Prints markdown tables; the "new / baseline" column is the change's effect.
#   perf/ab.sh <baseline-commit> [seconds-per-size] [sizes, comma-separated] [word]
# Cases: rent+return typed and through the abstract types, plain Dispose, NativeBufferPool, bursts of
# 512, streaming across threads (perf/SlabPools.Benchmarks/StreamLine.cs); with a word, only the cases
# whose names contain it (e.g. "streaming").
# Defaults: 8 seconds for each of 3000,4096 bytes. Uncommitted changes count as "new".
set -euo pipefail
cd "$(dirname "$0")/.."
base="${1:?usage: perf/ab.sh <baseline-commit> [seconds-per-size] [sizes]}"
seconds="${2:-8}"
sizes="${3:-3000,4096}"
only="${4:-}"
tmp=$(mktemp -d)
cleanup() {
  git worktree remove --force "$tmp/baseline" >/dev/null 2>&1 || true
  rm -rf "$tmp"
}
trap cleanup EXIT
git worktree add --detach -q "$tmp/baseline" "$base"
echo "A/B: $(git rev-parse --short HEAD)$([ -n "$(git status --porcelain -- src)" ] && echo ' (with uncommitted changes)') against $(git -C "$tmp/baseline" rev-parse --short HEAD)"
dotnet build perf/SlabPools.AB -c Release -v q -nologo -p:BaselineProject="$tmp/baseline/src/SlabPools/SlabPools.csproj" >/dev/null
dotnet perf/SlabPools.AB/bin/Release/net10.0/SlabPools.AB.dll "$seconds" "$sizes" "$only"
