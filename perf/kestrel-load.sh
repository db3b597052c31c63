#!/usr/bin/env bash
# Kestrel load test: KestrelDemo on SlabPools against the same app on Kestrel's own memory pool,
# driven by wrk on 127.0.0.1 for a bounded time. Writes perf/results/kestrel.md.
#   perf/kestrel-load.sh [seconds-per-run] [idle-seconds]
# Three servers: Kestrel's pool, SlabPools with its defaults, and SlabPools with an aggressive idle
# collection (SlabPools:CollectionMode=Aggressive, CollectAfterRelease=4 MiB). Three loads: small
# JSON answers and 1 MiB downloads on 64 connections, and a burst of 512 connections downloading
# 4 MiB each (the pools grow by tens of MiB, then the server idles).
set -euo pipefail
cd "$(dirname "$0")/.."
duration="${1:-20}"
idle="${2:-35}"
out=perf/results
mkdir -p "$out"
source perf/lib/kestrel-server.sh
build_demo

run() {
  local pool="$1" port="$2" path="$3" label="$4" connections="$5"
  start_server "$pool" "$port" "$path"
  local pid=$server_pid
  local before; before=$(rss "$pid")
  local report; report=$(wrk -t2 -c"$connections" -d"${duration}s" --latency "http://127.0.0.1:$port$path")
  local rps; rps=$(echo "$report" | awk '/Requests\/sec/ {print $2}')
  local mib; mib=$(echo "$report" | wrk_mib_per_sec)
  local p99; p99=$(echo "$report" | awk '$1 == "99%" {print $2}')
  local peak; peak=$(hwm "$pid")
  local loaded; loaded=$(rss "$pid")
  sleep "$idle"   # idle: this wait is the measurement of memory given back
  local after; after=$(rss "$pid")
  stop_server
  printf '| %s | %s | %s | %s | %s | %s | %.1f | %.1f | %.1f | %.1f |\n' "$label" "$pool" "$path" "$rps" "$mib" "$p99" \
    "$(echo "$before/1024" | bc -l)" "$(echo "$peak/1024" | bc -l)" "$(echo "$loaded/1024" | bc -l)" "$(echo "$after/1024" | bc -l)"
}

{
  echo "# Kestrel under load: SlabPools against Kestrel's own pool"
  echo
  echo "Produced by perf/kestrel-load.sh $duration $idle on $(date -u '+%Y-%m-%d %H:%M') UTC at commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown)."
  echo "wrk -t2 -d${duration}s on 127.0.0.1 (64 or 512 connections), after a 2 s warm-up on 64; the server runs on the same 2 cores."
  echo "slabpools-aggressive: SlabPools with --SlabPools:CollectionMode=Aggressive --SlabPools:CollectAfterRelease=4194304."
  echo "RSS in MiB: before the run, peak (VmHWM), at the end of the run, and after ${idle} s idle."
  echo
  echo "| endpoint | transport pool | path | requests/s | MiB/s | p99 | RSS before | RSS peak | RSS loaded | RSS idle |"
  echo "| --- | --- | --- | ---: | ---: | --- | ---: | ---: | ---: | ---: |"
  # A port of its own for every server: a server still shutting down cannot answer for the next.
  port=5090
  for pool in kestrel slabpools slabpools-aggressive; do run "$pool" $((++port)) "/json" "JSON" 64; done
  for pool in kestrel slabpools slabpools-aggressive; do run "$pool" $((++port)) "/download?mb=1" "1 MiB download" 64; done
  for pool in kestrel slabpools slabpools-aggressive; do run "$pool" $((++port)) "/download?mb=4" "512 x 4 MiB downloads" 512; done
} | tee "$out/kestrel.md"
