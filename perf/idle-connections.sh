#!/usr/bin/env bash
# How many transport blocks idle keep-alive connections hold: starts KestrelDemo on SlabPools
# (127.0.0.1), opens N connections, sends one GET /json on each and reads the whole answer, keeps
# them all open and idle, and prints what the transport block's cache holds then (from /api/caches:
# activeObjects are blocks rented out at that moment). Kestrel waits for data before it rents a
# read buffer, so the expected answer is none, whatever the block size.
#   perf/idle-connections.sh [connections] [--SlabPools:Setting=value...]   (default 500)
set -euo pipefail
cd "$(dirname "$0")/.."
connections="${1:-500}"
settings=("${@:2}")
port=5095
source perf/lib/kestrel-server.sh
build_demo
start_server slabpools "$port" "/json" "${settings[@]}"   # with its 2 s warm-up on 64 connections
python3 - "$port" "$connections" <<'PY'
import json, socket, sys, time, urllib.request

port, count = int(sys.argv[1]), int(sys.argv[2])

def read_answer(sock):
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            raise SystemExit("the server closed a connection")
        data += chunk
    head, body = data.split(b"\r\n\r\n", 1)
    fields = dict(l.split(b":", 1) for l in head.split(b"\r\n")[1:])
    fields = {k.strip().lower(): v.strip() for k, v in fields.items()}
    if b"content-length" in fields:
        while len(body) < int(fields[b"content-length"]):
            body += sock.recv(65536)
    else:  # chunked: up to the last, empty chunk
        while not body.endswith(b"0\r\n\r\n"):
            body += sock.recv(65536)

sockets = []
for _ in range(count):
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(b"GET /json HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    read_answer(s)
    sockets.append(s)
time.sleep(1)  # the last answers' blocks go back once their sends complete
caches = json.load(urllib.request.urlopen(f"http://127.0.0.1:{port}/api/caches"))
caches = caches["caches"] if isinstance(caches, dict) else caches
for c in caches:
    if c["name"].startswith("pinned-") and c["fastAllocations"] + c["slowAllocations"] > 0:
        print(f"{count} idle keep-alive connections after one GET /json each: {c['name']} holds "
              f"{c['activeObjects']} blocks rented, {c['bytesReserved'] / 1024:.0f} KiB reserved in all")
for s in sockets:
    s.close()
PY
stop_server
