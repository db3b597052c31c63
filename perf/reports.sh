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
  source perf/lib/packages.sh
  install_package python3-matplotlib
fi
/usr/bin/python3 perf/plot.py "$out"
