#!/usr/bin/env bash
# The Kestrel load test's 512-connection burst (512 clients downloading 4 MiB each), alternating
# Kestrel's own pool and SlabPools round after round, for a throughput ratio that one pair of runs
# cannot give on a shared machine (the same server varies by 20% from run to run). Each round
# starts both servers afresh, in alternating order; prints each round's ratio and the median.
#   perf/kestrel-burst.sh [rounds] [seconds-per-run]
# Defaults: 6 rounds of 20 s per server (about 6 minutes). Writes perf/results/kestrel-burst.md.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds="${1:-6}"
duration="${2:-20}"
path="/download?mb=4"
source perf/lib/kestrel-server.sh
build_demo

measure() {
  local pool="$1" port="$2"
  start_server "$pool" "$port" "$path"
  wrk -t2 -c512 -d"${duration}s" "http://127.0.0.1:$port$path" | awk '/Requests\/sec/ {print $2}'
  stop_server
}

commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
ratios=()
{
  echo "# Kestrel, 512 connections x 4 MiB downloads: SlabPools against Kestrel's own pool, alternating"
  echo
  echo "Produced by perf/kestrel-burst.sh $rounds $duration on $(date -u '+%Y-%m-%d %H:%M UTC') at commit $commit."
  echo "wrk -t2 -c512 -d${duration}s on 127.0.0.1 after a 2 s warm-up on 64 connections; a fresh server per run."
  echo
  echo "| round | order | kestrel requests/s | slabpools requests/s | slabpools / kestrel |"
  echo "| ---: | --- | ---: | ---: | ---: |"
  for r in $(seq 1 "$rounds"); do
    if (( r % 2 )); then
      k=$(measure kestrel 5094); s=$(measure slabpools 5095); order="kestrel first"
    else
      s=$(measure slabpools 5095); k=$(measure kestrel 5094); order="slabpools first"
    fi
    ratio=$(echo "$s / $k" | bc -l)
    ratios+=("$ratio")
    printf '| %d | %s | %s | %s | %.2f |\n' "$r" "$order" "$k" "$s" "$ratio"
  done
  median=$(printf '%s\n' "${ratios[@]}" | sort -g | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}')
  echo
  printf 'Median ratio over %d rounds: %.2f (min %.2f, max %.2f)\n' "$rounds" "$median" \
    "$(printf '%s\n' "${ratios[@]}" | sort -g | head -1)" "$(printf '%s\n' "${ratios[@]}" | sort -g | tail -1)"
} | tee perf/results/kestrel-burst.md
