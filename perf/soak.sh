#!/usr/bin/env bash
# Runs the soak test for ten minutes (or SLABPOOLS_SOAK_SECONDS) and prints its summary line.
set -euo pipefail
cd "$(dirname "$0")/.."
export SLABPOOLS_SOAK_SECONDS="${SLABPOOLS_SOAK_SECONDS:-600}"
dotnet test tests/SlabPools.Tests -c Release --filter "FullyQualifiedName~SoakTests" --logger "console;verbosity=detailed" | grep -E "operations on|Passed!|Failed!|Test Run|\[FAIL\]"
