# Shared by perf/kestrel-load.sh and perf/kestrel-burst.sh (sourced, not run): starts KestrelDemo
# on 127.0.0.1 with one of the transport pools and reads its memory from /proc.
#   pool: kestrel (Kestrel's own pool), slabpools (defaults), slabpools-aggressive.

app=samples/KestrelDemo/bin/Release/net10.0/KestrelDemo.dll

source "$(dirname "${BASH_SOURCE[0]}")/packages.sh"

build_demo() {
  command -v wrk >/dev/null || install_package wrk
  dotnet build samples/KestrelDemo -c Release -v q -nologo >/dev/null
}

rss() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }

# A wrk report on stdin -> its Transfer/sec in MiB/s (wrk prints it in B, KB, MB or GB of 1024).
# Unlike requests/s it counts the bytes of responses still under way when the run ends.
wrk_mib_per_sec() {
  awk '/Transfer\/sec/ {
    match($2, /[0-9.]+/); n = substr($2, RSTART, RLENGTH); u = substr($2, RSTART + RLENGTH)
    m = (u == "GB") ? 1024 : (u == "MB") ? 1 : (u == "KB") ? 1 / 1024 : 1 / 1048576
    printf "%.1f\n", n * m
  }'
}
# CPU time the process has used, user and system, in clock ticks (fields 14 and 15 of its stat,
# counted after the command name, which may hold spaces).
cpu_ticks() { sed 's/^.*) //' "/proc/$1/stat" | awk '{print $12 + $13}'; }

hwm() { awk '/^VmHWM:/ {print $2}' "/proc/$1/status"; }

# start_server <pool> <port> <path> [setting...]: starts the server in the background (the settings
# are passed on, e.g. --SlabPools:TransportBlockSize=4096), waits until it answers, warms it up for
# 2 s on 64 connections with GET <path>; sets server_pid.
start_server() {
  local pool="$1" port="$2" path="$3"
  shift 3
  local settings=(--Demo:TransportPool=kestrel)
  case "$pool" in
    slabpools) settings=() ;;
    slabpools-aggressive) settings=(--SlabPools:CollectionMode=Aggressive --SlabPools:CollectAfterRelease=4194304) ;;
  esac
  dotnet "$app" --urls "http://127.0.0.1:$port" --SlabPools:FlushInterval=00:00:10 "${settings[@]}" "$@" >/dev/null 2>&1 &
  server_pid=$!
  trap stop_server EXIT   # no server outlives the script, whatever ends it
  # Up to a minute: on a loaded machine the process can take more than ten seconds to listen.
  local up=0
  for _ in $(seq 1 600); do
    kill -0 "$server_pid" 2>/dev/null || break   # it exited (the port taken?)
    if curl -fs "http://127.0.0.1:$port/slabinfo" >/dev/null 2>&1; then up=1; break; fi
    sleep 0.1
  done
  # The answer must come from this server, not from one still shutting down on the same port.
  if (( up )) && ! kill -0 "$server_pid" 2>/dev/null; then up=0; fi
  if (( ! up )); then
    echo "kestrel-server: the $pool server on port $port did not start (no answer within a minute, or it exited)" >&2
    stop_server
    return 1
  fi
  wrk -t2 -c64 -d2s "http://127.0.0.1:$port$path" >/dev/null   # warm-up
}

stop_server() {
  if [ -n "${server_pid:-}" ]; then
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
    server_pid=
  fi
}
