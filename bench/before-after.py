"""The report of bench/before-after.sh: per workload and build, the first revision's time (the
minimum over rounds of criterion's median) and every other revision's ratio to it."""
import collections
import glob
import json
import sys

results, revs = sys.argv[1], sys.argv[2:]
medians = collections.defaultdict(list)
for path in glob.glob(f"{results}/*/round-*/criterion/**/new/estimates.json", recursive=True):
    run, _, _, *bench, _, _ = path[len(results) + 1:].split("/")
    rev, build = run.split("-", 1)
    medians[(rev, build, "/".join(bench).replace("/generated", ""))].append(
        json.load(open(path))["median"]["point_estimate"])
builds = [b for b in ("default", "native", "native-fma") if any(k[1] == b for k in medians)]
benches = sorted({k[2] for k in medians})


def time(ns):
    return f"{ns / 1000:.2f} µs" if ns >= 1000 else f"{ns:.1f} ns"


print("| workload | " + " | ".join(f"{b}: {revs[0]} / " + " / ".join(revs[1:]) for b in builds) + " |")
print("|---|" + "---|" * len(builds))
worst = collections.defaultdict(float)
for bench in benches:
    cells = []
    for build in builds:
        first = min(medians[(revs[0], build, bench)])
        ratios = []
        for rev in revs[1:]:
            ratio = min(medians[(rev, build, bench)]) / first
            worst[rev] = max(worst[rev], ratio)
            ratios.append(f"{ratio:.3f}")
        cells.append(f"{time(first)} / " + " / ".join(ratios))
    print(f"| {bench} | " + " | ".join(cells) + " |")
print()
print("Worst ratio to " + revs[0] + ": " + ", ".join(f"{rev} {worst[rev]:.3f}" for rev in revs[1:]) + ".")
