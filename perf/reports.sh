#!/usr/bin/env bash
# Writes the waste and idle reports (markdown, CSV, PNG) into perf/results.
#   perf/reports.sh [idle-seconds]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-40}"
out=perf/results
mkdir -p "$out"
dotnet build perf/SlabPools.Reports -c Release -v q -nologo
reports=perf/SlabPools.Reports/bin/Release/net10.0/SlabPools.Reports
"$reports" waste "$out"
"$reports" idle "$out" "$seconds"
if ! /usr/bin/python3 -c "import matplotlib" 2>/dev/null; then
  # A fresh machine may have no package lists yet: update them only when the install needs them.
  apt-get install -y -qq python3-matplotlib >/dev/null 2>&1 \
    || { apt-get update -qq >/dev/null && apt-get install -y -qq python3-matplotlib >/dev/null; }
fi
/usr/bin/python3 perf/plot.py "$out"
