#!/usr/bin/env bash
# Headless-browser test of KestrelDemo's live page (GET /).
#
# Starts the demo on a free loopback port and loads the page in headless Chromium three times
# (--dump-dom with a virtual time budget, so the page's own JavaScript fetches /api/caches and
# redraws several times before the DOM is read):
#   1. the page loads, refreshes itself and lists the caches, pinned-16384 (Kestrel's) among them;
#   2. after a burst (POST /burst) its figures have changed: the burst's caches are listed and its
#      chart has the burst's peak;
#   3. after the flusher gave the burst's memory back, the page shows reserved bytes far below it.
# Between 2 and 3 it takes a screenshot of the page under load (downloads, echoes and a burst in
# flight) into a temporary file, whose path it prints.
#
# Installs Debian's chromium first if it is missing. Every request goes to 127.0.0.1, every wait is
# bounded. Prints one line at the end, "browser test: passed ..." or "browser test: FAILED: ...",
# and exits non-zero on failure.
set -uo pipefail
cd "$(dirname "$0")/../.."

started=$SECONDS
work=$(mktemp -d "${TMPDIR:-/tmp}/slabpools-browser.XXXXXX")
screenshot="${BROWSER_TEST_SCREENSHOT:-${TMPDIR:-/tmp}/slabpools-live-page.png}"
demo_pid=""
load_pids=()

cleanup() {
  for pid in "${load_pids[@]}" $demo_pid; do
    kill "$pid" 2>/dev/null
  done
  for pid in "${load_pids[@]}" $demo_pid; do
    wait "$pid" 2>/dev/null
  done
  rm -rf "$work"
}
trap cleanup EXIT

fail() {
  echo "browser test: FAILED: $*"
  exit 1
}

# --- Chromium --------------------------------------------------------------------------------------
if ! command -v chromium > /dev/null 2>&1; then
  echo "browser test: installing Debian's chromium (apt-get install -y chromium)..."
  if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; } > "$work/apt.log" 2>&1; then
    tail -n 20 "$work/apt.log"
    fail "could not install chromium with apt-get (output above)"
  fi
fi

# Headless Chromium with nothing of its own on the network, and a profile that lives in $work.
chrome() {
  timeout 90 chromium --headless --no-sandbox --disable-gpu --disable-background-networking \
    --disable-component-update --disable-sync --no-first-run --disable-quic \
    --disable-dev-shm-usage --user-data-dir="$(mktemp -d "$work/profile.XXXXXX")" "$@" 2>> "$work/chromium.log"
}

# The page after its scripts ran for $2 ms of virtual time (about one refresh a second).
dump() {
  chrome --virtual-time-budget="$2" --dump-dom "$1" > "$work/$3.html" || fail "chromium could not load $1 (see its log: $(tail -n 3 "$work/chromium.log" | tr '\n' ' '))"
}

# The number in attribute $2 of the element that has the attribute/value pair $1, in dump $3.
attribute() {
  grep -o "$1[^>]*" "$work/$3.html" | grep -o "$2=\"[0-9]*\"" | head -n 1 | grep -o '[0-9]\+'
}

mib() { awk -v b="$1" 'BEGIN { printf "%.1f MiB", b / 1048576 }'; }

# --- The demo ----------------------------------------------------------------------------------------
if ! dotnet build samples/KestrelDemo -c Release -nologo -v q > "$work/build.log" 2>&1; then
  grep -E 'error' "$work/build.log" | sort -u | head -n 10
  fail "samples/KestrelDemo does not build (errors above)"
fi

# A short flush interval, so that the burst's memory goes back within seconds.
dotnet samples/KestrelDemo/bin/Release/net10.0/KestrelDemo.dll --urls http://127.0.0.1:0 \
  --SlabPools:FlushInterval=00:00:02 > "$work/demo.log" 2>&1 &
demo_pid=$!

url=""
for _ in $(seq 1 120); do
  url=$(grep -oE 'listening on http://127\.0\.0\.1:[0-9]+' "$work/demo.log" | head -n 1 | sed 's/listening on //')
  [ -n "$url" ] && break
  kill -0 "$demo_pid" 2> /dev/null || fail "KestrelDemo exited at start: $(tail -n 5 "$work/demo.log" | tr '\n' ' ')"
  sleep 0.5
done
[ -n "$url" ] || fail "KestrelDemo did not print its address within 60 s"

api() { curl -sS --fail --max-time 30 "$@"; }
reserved_now() { api "$url/api/caches" | grep -o '"reservedBytes":[0-9]*' | head -n 1 | grep -o '[0-9]\+'; }

# --- 1. The page loads, refreshes itself and lists the caches ---------------------------------------------
api -X POST --data-binary 'hello' "$url/echo" > /dev/null || fail "POST /echo failed before the page test"
dump "$url/" 4000 first
grep -q '<title>SlabPools - live slab view</title>' "$work/first.html" || fail "GET / did not serve the live page"
updates=$(attribute '<body' data-updates first)
[ "${updates:-0}" -ge 2 ] || fail "the page did not refresh itself from /api/caches (updates: ${updates:-none})"
grep -q 'data-cache="pinned-16384"' "$work/first.html" || fail "the page does not list Kestrel's cache pinned-16384 (the transport block)"
grep -q 'id="status" class="live"' "$work/first.html" || fail "the page does not show itself live"
first_reserved=$(attribute 'id="total-reserved"' data-bytes first)
[ -n "$first_reserved" ] || fail "the page shows no total of reserved bytes"

# --- 2. A burst: the page's figures change ------------------------------------------------------------------
# Held for 2.5 s, so the page's history (one sample a second) records the burst's peak.
burst=$(api -X POST "$url/burst?count=6000&holdMs=2500") || fail "POST /burst failed"
held=$(echo "$burst" | grep -o '"reservedWhileHeld":[0-9]*' | grep -o '[0-9]\+')
[ "${held:-0}" -gt $((16 * 1048576)) ] || fail "the burst did not reserve memory: $burst"
dump "$url/" 3000 burst
peak=$(attribute 'id="chart"' data-max-reserved burst)
[ "${peak:-0}" -gt $((16 * 1048576)) ] || fail "the page's chart does not show the burst (its peak: ${peak:-none} bytes, the burst held $held)"
for cache in array-16384 native-8192 array-1024 native-512; do
  grep -q "data-cache=\"$cache\"" "$work/burst.html" || fail "the page does not list $cache after the burst"
done
first_made=$(attribute 'data-cache="pinned-4096"' data-made first)
burst_made=$(attribute 'data-cache="pinned-4096"' data-made burst)
[ "${burst_made:-0}" -gt "${first_made:-0}" ] || fail "the page shows no new pinned-4096 slab after the burst (slabs made: ${first_made:-none}, then ${burst_made:-none})"
points=$(attribute 'id="reserved-line"' data-points burst)
[ "${points:-0}" -ge 3 ] || fail "the chart draws too few points (${points:-none})"

# --- A screenshot under load --------------------------------------------------------------------------------
# Four download/echo loops (for 10 s at most) and a held burst while Chromium renders the page.
load_end=$((SECONDS + 10))
for _ in 1 2 3 4; do
  (
    while [ "$SECONDS" -lt "$load_end" ]; do
      curl -s --max-time 10 -o /dev/null "$url/download?mb=16"
      head -c 262144 /dev/zero | curl -s --max-time 10 -o /dev/null --data-binary @- "$url/echo"
    done
  ) &
  load_pids+=($!)
done
curl -s --max-time 20 -o /dev/null -X POST "$url/burst?count=4000&holdMs=4000" &
load_pids+=($!)
sleep 1.5
rm -f "$screenshot"
chrome --virtual-time-budget=3000 --window-size=1280,1000 --hide-scrollbars --screenshot="$screenshot" "$url/" > /dev/null || fail "chromium could not take a screenshot"
shot_bytes=$(stat -c %s "$screenshot" 2> /dev/null || echo 0)
[ "$shot_bytes" -gt 20000 ] || fail "the screenshot is missing or blank ($shot_bytes bytes at $screenshot)"
for pid in "${load_pids[@]}"; do
  wait "$pid" 2> /dev/null
done
load_pids=()

# --- 3. The flusher gives the memory back, and the page shows it ----------------------------------------------
low=""
for _ in $(seq 1 60); do
  low=$(reserved_now) || fail "GET /api/caches failed"
  [ "$low" -lt $((peak / 4)) ] && break
  sleep 0.5
done
[ "$low" -lt $((peak / 4)) ] || fail "reserved memory did not fall within 30 s of the load (peak $(mib "$peak"), now $(mib "$low"))"
dump "$url/" 2000 after
after=$(attribute 'id="total-reserved"' data-bytes after)
[ -n "$after" ] && [ "$after" -lt $((peak / 4)) ] || fail "the page still shows $(mib "${after:-0}") reserved after the flusher gave memory back (peak $(mib "$peak"))"

echo "browser test: passed in $((SECONDS - started)) s: the page lists $(grep -o 'data-cache="' "$work/burst.html" | wc -l) caches; reserved $(mib "$first_reserved") -> burst peak $(mib "$peak") -> $(mib "$after") after the flusher; screenshot under load: $screenshot"
