"""The report of bench/profiles.sh. Per revision, workload, mode and target: the generated
network's time in each release profile (the minimum over rounds of criterion's median) with its
ratio to the best hand-written version of the same build, and the spread of the generated times
over the profiles (slowest / fastest, opt-level s left out, as issue 17 asks). With several
revisions, then each one's generated times as ratios to the first's."""
import collections
import glob
import json
import sys

results = sys.argv[1]
PROFILES = [("release", "release"), ("cgu1", "cgu=1"), ("lto", "fat LTO, cgu=1"), ("s", "opt-level s")]
# `train_steps` runs 64 steps per call; the tables give the time per step.
PER_CALL = {"w4_mnist_seq": 64}

medians = collections.defaultdict(list)
revs = []
for path in sorted(glob.glob(f"{results}/*/round-*/criterion/**/new/estimates.json", recursive=True)):
    parts = path[len(results) + 1:].split("/")
    if len(parts) != 8:  # not a workload's `<group>/<mode>/<impl>` (the peak, for one)
        continue
    run, _, _, group, mode, impl, _, _ = parts
    rev, target, profile = run.split("-")[:3]
    if rev not in revs:
        revs.append(rev)
    value = json.load(open(path))["median"]["point_estimate"] / PER_CALL.get(group, 1)
    medians[(rev, target, profile, group, mode, impl)].append(value)
best = {k: min(v) for k, v in medians.items()}
targets = [t for t in ("default", "native") if any(k[1] == t for k in best)]
profiles = [p for p in PROFILES if any(k[2] == p[0] for k in best)]
rows = sorted({(k[3], k[4]) for k in best if k[5] == "generated"})
# The order of the runs on the command line (bench/profiles.sh sorts nothing).
revs = [r for r in sys.argv[2:] if r in revs] + [r for r in revs if r not in sys.argv[2:]]


def time(ns):
    return f"{ns / 1000:.2f} µs" if ns >= 1000 else f"{ns:.1f} ns"


header = "| workload | mode | target | " + " | ".join(title for _, title in profiles)
for rev in revs:
    print()
    print(f"**{rev}**: generated time per step and, in parentheses, its ratio to the best hand-written")
    print("version built the same way (below 1.0 the generated code is faster); spread: the slowest")
    print("profile's generated time over the fastest's, opt-level s left out.")
    print()
    print(header + " | spread |")
    print("|---|---|---|" + "---:|" * (len(profiles) + 1))
    worst_ratio, worst_spread = (0.0, ""), (0.0, "")
    for group, mode in rows:
        for target in targets:
            cells, times = [], []
            for profile, _ in profiles:
                gen = best.get((rev, target, profile, group, mode, "generated"))
                hand = [best[k] for k in ((rev, target, profile, group, mode, i) for i in ("straight", "accum"))
                        if k in best]
                if gen is None or not hand:
                    cells.append("n/a")
                    continue
                ratio = gen / min(hand)
                cells.append(f"{time(gen)} ({ratio:.2f})")
                worst_ratio = max(worst_ratio, (ratio, f"{group}/{mode}, {target}, {profile}"))
                if profile != "s":
                    times.append(gen)
            spread = max(times) / min(times) if times else float("nan")
            worst_spread = max(worst_spread, (spread, f"{group}/{mode}, {target}"))
            print(f"| {group} | {mode} | {target} | " + " | ".join(cells) + f" | {spread:.2f} |")
    print()
    print(f"{rev}: worst ratio to the best hand-written {worst_ratio[0]:.3f} ({worst_ratio[1]}); "
          f"widest spread over the profiles {worst_spread[0]:.3f} ({worst_spread[1]}).")

for rev in revs[1:]:
    print()
    print(f"**{rev} / {revs[0]}**: the generated times' ratios, same build.")
    print()
    print(header + " |")
    print("|---|---|---|" + "---:|" * len(profiles))
    for group, mode in rows:
        for target in targets:
            cells = []
            for profile, _ in profiles:
                new = best.get((rev, target, profile, group, mode, "generated"))
                old = best.get((revs[0], target, profile, group, mode, "generated"))
                cells.append(f"{new / old:.3f}" if new and old else "n/a")
            print(f"| {group} | {mode} | {target} | " + " | ".join(cells) + " |")
