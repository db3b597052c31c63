#!/usr/bin/env python3
"""Draws perf/results/waste.png and perf/results/idle.png from the CSV files the reports write."""
import csv
import sys
from collections import defaultdict

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

out = sys.argv[1] if len(sys.argv) > 1 else "perf/results"

# Waste: one group of bars per size mix.
rows = list(csv.DictReader(open(f"{out}/waste.csv")))
mixes = list(dict.fromkeys(r["mix"] for r in rows))
pools = list(dict.fromkeys(r["pool"] for r in rows))
fig, ax = plt.subplots(figsize=(10, 4.5))
width = 0.8 / len(mixes)
for m, mix in enumerate(mixes):
    values = [float(next(r for r in rows if r["mix"] == mix and r["pool"] == p)["allocated_over_requested"]) for p in pools]
    ax.bar([i + m * width for i in range(len(pools))], values, width, label=mix)
ax.axhline(1.10, color="grey", linestyle="--", linewidth=1, label="target 1.10")
ax.set_xticks([i + width * (len(mixes) - 1) / 2 for i in range(len(pools))])
ax.set_xticklabels(pools, rotation=20, ha="right", fontsize=8)
ax.set_ylim(0.9, max(1.5, ax.get_ylim()[1]))
ax.set_ylabel("bytes allocated / bytes requested")
ax.set_title("Memory waste by pool (lower is better)")
ax.legend(fontsize=8)
fig.tight_layout()
fig.savefig(f"{out}/waste.png", dpi=110)

# Idle: resident memory over time after the burst is returned.
series = defaultdict(list)
for r in csv.DictReader(open(f"{out}/idle.csv")):
    second = int(r["second"])
    if second >= -1:
        series[r["pool"]].append((second, int(r["rss_bytes"]) / 2**20, int(r["pool_bytes"])))
fig, ax = plt.subplots(figsize=(10, 4.5))
for pool, points in series.items():
    ax.plot([p[0] for p in points], [p[1] for p in points], label=pool, linewidth=1.8)
ax.set_xlabel("seconds idle after 20,000 x 4 KiB buffers were returned")
ax.set_ylabel("resident memory (MiB)")
ax.set_title("Memory given back when idle (no GC forced by the report; -aggressive: SlabPools asks for one once idle)")
ax.legend(fontsize=8)
ax.grid(alpha=0.3)
fig.tight_layout()
fig.savefig(f"{out}/idle.png", dpi=110)
print(f"wrote {out}/waste.png and {out}/idle.png")
