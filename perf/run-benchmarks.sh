#!/usr/bin/env bash
# Runs the SlabPools benchmark suite (BenchmarkDotNet) and copies its GitHub-markdown reports into
# perf/results/, one file per scenario, each headed by the date, the commit and the arguments used.
#
#   perf/run-benchmarks.sh                         the whole suite (about ten minutes on two cores)
#   perf/run-benchmarks.sh --filter '*Burst*'      a subset; any BenchmarkDotNet option can be given
#   perf/run-benchmarks.sh --iterationCount 3      everything, with fewer iterations
#
# Run it on a quiet machine: builds or tests running at the same time turn the numbers into noise.
# The exit code is non-zero when a benchmark failed or no report was written.
set -euo pipefail
cd "$(dirname "$0")/.."

artifacts=perf/BenchmarkDotNet.Artifacts
results=perf/results

# Without a filter (or a --list) BenchmarkDotNet would ask which benchmarks to run: run them all.
selects=0
for arg in "$@"; do
  case "$arg" in
    --filter | --filter=* | -f | --list | --list=*) selects=1 ;;
  esac
done
if [ "$selects" -eq 0 ]; then
  set -- --filter '*' "$@"
fi

rm -rf "$artifacts"
status=0
dotnet run -c Release --project perf/SlabPools.Benchmarks -- --artifacts "$artifacts" "$@" || status=$?

shopt -s nullglob
reports=("$artifacts"/results/*-report-github.md)
if [ "${#reports[@]}" -eq 0 ]; then
  echo "run-benchmarks: BenchmarkDotNet wrote no report" >&2
  exit $((status == 0 ? 1 : status))
fi

commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
if [ -n "$(git status --porcelain -- . ":!$results" 2>/dev/null)" ]; then
  commit="$commit (with uncommitted changes)"
fi
when=$(date -u '+%Y-%m-%d %H:%M UTC')

mkdir -p "$results"
for report in "${reports[@]}"; do
  name=$(basename "$report" -report-github.md)
  name=${name#SlabPools.Benchmarks.}
  {
    echo "Produced by perf/run-benchmarks.sh on $when at commit $commit with arguments: $*"
    echo
    cat "$report"
  } >"$results/$name.md"
  echo "run-benchmarks: wrote $results/$name.md"
done

exit "$status"
