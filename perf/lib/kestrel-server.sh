# Shared by perf/kestrel-load.sh and perf/kestrel-burst.sh (sourced, not run): starts KestrelDemo
# on 127.0.0.1 with one of the transport pools and reads its memory from /proc.
#   pool: kestrel (Kestrel's own pool), slabpools (defaults), slabpools-aggressive.

app=samples/KestrelDemo/bin/Release/net10.0/KestrelDemo.dll

build_demo() {
  command -v wrk >/dev/null || apt-get install -y -qq wrk >/dev/null
  dotnet build samples/KestrelDemo -c Release -v q -nologo >/dev/null
}

rss() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }
hwm() { awk '/^VmHWM:/ {print $2}' "/proc/$1/status"; }

# start_server <pool> <port> <path>: starts the server in the background, waits until it answers,
# warms it up for 2 s on 64 connections with GET <path>; sets server_pid.
start_server() {
  local pool="$1" port="$2" path="$3"
  local settings=(--Demo:TransportPool=kestrel)
  case "$pool" in
    slabpools) settings=() ;;
    slabpools-aggressive) settings=(--SlabPools:CollectionMode=Aggressive --SlabPools:CollectAfterRelease=4194304) ;;
  esac
  dotnet "$app" --urls "http://127.0.0.1:$port" --SlabPools:FlushInterval=00:00:10 "${settings[@]}" >/dev/null 2>&1 &
  server_pid=$!
  for _ in $(seq 1 100); do curl -fs "http://127.0.0.1:$port/slabinfo" >/dev/null 2>&1 && break; sleep 0.1; done
  wrk -t2 -c64 -d2s "http://127.0.0.1:$port$path" >/dev/null   # warm-up
}

stop_server() {
  kill "$server_pid"
  wait "$server_pid" 2>/dev/null || true
}
