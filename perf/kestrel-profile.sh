#!/usr/bin/env bash
# A CPU profile of KestrelDemo under the 512-connection burst (512 clients downloading 4 MiB each):
# where the server's time goes, by function, for one pool and its settings.
#   perf/kestrel-profile.sh <kestrel|slabpools|slabpools-aggressive> [seconds] [--SlabPools:Setting=value...]
# e.g. perf/kestrel-profile.sh slabpools 12 --SlabPools:TransportBlockSize=4096
# Samples the server with `perf record` (999 Hz, all its threads) for the given seconds (default 12)
# of a 20 s wrk run on 127.0.0.1, the JIT's code named through its perf map, and prints the
# functions at 0.3% of the samples or more, the kernel's and the runtime's included, then the
# samples by module, after a line with wrk's throughput and the server's CPU time while sampled.
# Needs `perf` (Debian package linux-perf) and root, or a perf_event_paranoid that lets it sample
# its own processes.
set -euo pipefail
cd "$(dirname "$0")/.."
pool="${1:?pool: kestrel, slabpools or slabpools-aggressive}"
seconds="${2:-12}"
settings=("${@:3}")
port=5093
path="/download?mb=4"
source perf/lib/kestrel-server.sh
command -v perf >/dev/null || install_package linux-perf
build_demo

tmp=$(mktemp -d)
trap 'stop_server; rm -rf "$tmp"' EXIT
export DOTNET_PerfMapEnabled=1   # the JIT writes /tmp/perf-<pid>.map, which perf reads for names
# Without W^X the JIT's code lives in anonymous memory, where perf looks the map up; with it (the
# default) the code runs from a shared-memory mapping that perf cannot name.
export DOTNET_EnableWriteXorExecute=0
start_server "$pool" "$port" "$path" "${settings[@]}"
trap 'stop_server; rm -rf "$tmp"; rm -f "/tmp/perf-$server_pid.map" "/tmp/perfinfo-$server_pid.map"' EXIT
wrk -t2 -c512 -d20s "http://127.0.0.1:$port$path" > "$tmp/wrk.txt" &
wrk_pid=$!
sleep 4   # past the ramp-up: every connection has its download under way
t0=$(cpu_ticks "$server_pid")
perf record -q -F 999 -p "$server_pid" -o "$tmp/perf.data" -- sleep "$seconds" 2>/dev/null
t1=$(cpu_ticks "$server_pid")
wait "$wrk_pid"
mib=$(wrk_mib_per_sec < "$tmp/wrk.txt")
echo "# $pool ${settings[*]}: wrk $(awk '/Requests\/sec/ {print $2}' "$tmp/wrk.txt") requests/s, $mib MiB/s; server CPU $(( (t1 - t0) * 1000 / $(getconf CLK_TCK) )) ms in the ${seconds} s sampled"
perf report -i "$tmp/perf.data" --no-children --sort sym --stdio 2>/dev/null \
  | grep -v '^#' | grep -v '^$' | sed 's/  */ /g' > "$tmp/report.txt"
awk '$1 + 0 >= 0.3' "$tmp/report.txt"
# The same samples by where the code comes from: the kernel, each managed assembly (the JIT's names
# carry it in brackets), and the rest of user space (the runtime, libc's memmove, stubs).
echo "## by module"
awk '{ p = $1 + 0; m = "other user space"
       if ($2 == "[k]") m = "kernel"
       else if (match($0, /\[[A-Za-z][A-Za-z0-9.]*\] [A-Za-z]/)) m = substr($0, RSTART + 1, RLENGTH - 4)
       s[m] += p }
     END { for (m in s) if (s[m] >= 0.3) printf "%6.2f%% %s\n", s[m], m }' "$tmp/report.txt" | sort -rn
