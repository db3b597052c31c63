#!/usr/bin/env bash
# The Kestrel load test's 512-connection burst (512 clients downloading 4 MiB each), alternating
# Kestrel's own pool and SlabPools round after round, for a throughput ratio that one pair of runs
# cannot give on a shared machine (the same server varies by 20% from run to run). Each round
# starts both servers afresh, in alternating order; prints each round's ratio and the median.
#   perf/kestrel-burst.sh [rounds] [seconds-per-run] [baseline-commit | --SlabPools:Setting=value...]
# Defaults: 6 rounds of 20 s per server (about 6 minutes). Writes perf/results/kestrel-burst.md.
# With a baseline commit, the other side is not Kestrel's pool but SlabPools as that commit built
# it (a change's effect on this load); with settings, SlabPools as this tree builds it, run with
# those settings (a setting's effect); either writes perf/results/kestrel-burst-ab.md instead.
# Another load alternates the same way with CONNECTIONS and LOAD_PATH in the environment, e.g.
#   CONNECTIONS=64 LOAD_PATH='/download?mb=1' perf/kestrel-burst.sh 6 20   (1 MiB downloads on 64)
# and writes perf/results/kestrel-alternated.md (kestrel-alternated-ab.md) instead.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds="${1:-6}"
duration="${2:-20}"
base="${3:-}"
ref_settings=()
if [[ "$base" == --* ]]; then ref_settings=("${@:3}"); base=""; fi
path="${LOAD_PATH:-/download?mb=4}"
connections="${CONNECTIONS:-512}"
# The burst by default; another load is named by the variables that chose it, in the files and the report.
name=kestrel-burst load_vars=""
if [ -n "${CONNECTIONS:-}${LOAD_PATH:-}" ]; then name=kestrel-alternated load_vars="CONNECTIONS=$connections LOAD_PATH='$path' "; fi
source perf/lib/kestrel-server.sh
build_demo

# The reference side: Kestrel's pool, or SlabPools at the baseline commit (its own build of the demo).
ref_pool=kestrel ref_app="$app" ref_name="kestrel" out="perf/results/$name.md"
if (( ${#ref_settings[@]} )); then
  ref_pool=slabpools ref_name="slabpools ${ref_settings[*]}" out="perf/results/$name-ab.md"
fi
if [ -n "$base" ]; then
  tmp=$(mktemp -d)
  trap 'git worktree remove --force "$tmp/baseline" >/dev/null 2>&1 || true; rm -rf "$tmp"' EXIT
  git worktree add --detach -q "$tmp/baseline" "$base"
  dotnet build "$tmp/baseline/samples/KestrelDemo" -c Release -v q -nologo >/dev/null
  ref_pool=slabpools ref_app="$tmp/baseline/$app" ref_name="baseline $(git -C "$tmp/baseline" rev-parse --short HEAD)"
  out="perf/results/$name-ab.md"
fi

# Prints "<requests/s> <MiB/s> <server CPU ms per MiB>". The ratio is taken from the bytes (wrk's Transfer/sec, which counts
# the bytes of responses still under way), not from requests/s: the 512 connections share the
# server fairly, so their downloads finish in waves of about 512, and requests/s moves in steps
# of a wave per run (25 requests/s in 20 s, 5-7%), which alone made single rounds read 0.89 or 1.13.
measure() {
  local pool="$1" port="$2"
  app="${3:-$app}"   # this runs in a subshell: the change stays in it
  shift 3
  start_server "$pool" "$port" "$path" "$@" || return 1
  local t0 t1 report mib
  t0=$(cpu_ticks "$server_pid")
  report=$(wrk -t2 -c"$connections" -d"${duration}s" "http://127.0.0.1:$port$path")
  t1=$(cpu_ticks "$server_pid")
  mib=$(echo "$report" | wrk_mib_per_sec)
  echo "$(echo "$report" | awk '/Requests\/sec/ {print $2}') $mib $(echo "($t1 - $t0) * 1000 / $(getconf CLK_TCK) / ($mib * $duration)" | bc -l)"
  stop_server
}

commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
ratios=(); cpu_ratios=()
# Median, min and max of the numbers on stdin.
summary() { sort -g | awk '{a[NR]=$1} END {printf "%.3f (min %.3f, max %.3f)", (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2, a[1], a[NR]}'; }
{
  echo "# Kestrel, $connections connections on GET $path: SlabPools against $ref_name, alternating"
  echo
  echo "Produced by ${load_vars}perf/kestrel-burst.sh $rounds $duration $base${ref_settings[*]} on $(date -u '+%Y-%m-%d %H:%M UTC') at commit $commit$([ -n "$(git status --porcelain -- src samples 2>/dev/null)" ] && echo ' (with uncommitted changes)')."
  echo "wrk -t2 -c$connections -d${duration}s on 127.0.0.1 after a 2 s warm-up on 64 connections; a fresh server per run."
  echo "CPU ms/MiB: the server process's user + system CPU time during the run over the MiB wrk received"
  echo "(steadier than throughput on a shared machine, and what throughput comes from when wrk and the"
  echo "server share two cores)."
  echo
  echo "| round | order | $ref_name requests/s | slabpools requests/s | $ref_name MiB/s | slabpools MiB/s | slabpools / $ref_name (bytes) | $ref_name CPU ms/MiB | slabpools CPU ms/MiB | slabpools / $ref_name (CPU per byte) |"
  echo "| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
  for r in $(seq 1 "$rounds"); do
    # A port of its own for every server: a server still shutting down cannot answer for the next.
    kport=$((5100 + 2 * r)); sport=$((5101 + 2 * r))
    if (( r % 2 )); then
      read -r kr kb kc < <(measure "$ref_pool" "$kport" "$ref_app" "${ref_settings[@]}"); read -r sr sb sc < <(measure slabpools "$sport" "$app"); order="$ref_name first"
    else
      read -r sr sb sc < <(measure slabpools "$sport" "$app"); read -r kr kb kc < <(measure "$ref_pool" "$kport" "$ref_app" "${ref_settings[@]}"); order="slabpools first"
    fi
    ratio=$(echo "$sb / $kb" | bc -l)
    cpu_ratio=$(echo "$sc / $kc" | bc -l)
    ratios+=("$ratio"); cpu_ratios+=("$cpu_ratio")
    printf '| %d | %s | %s | %s | %s | %s | %.3f | %.3f | %.3f | %.3f |\n' "$r" "$order" "$kr" "$sr" "$kb" "$sb" "$ratio" "$kc" "$sc" "$cpu_ratio"
  done
  echo
  echo "Median ratio (bytes) over $rounds rounds: $(printf '%s\n' "${ratios[@]}" | summary)"
  echo "Median ratio (server CPU per byte; below 1 is less CPU) over $rounds rounds: $(printf '%s\n' "${cpu_ratios[@]}" | summary)"
} | tee "$out"
