#!/usr/bin/env bash
# Issue 6's benchmarks, both builds (default flags and -C target-cpu=native), each with the exact
# kernels and with the opt-in `fma` feature, one after the other; then the four reports (Markdown)
# on stdout and in target/bench-report.md.
#
#   bench/run.sh                    # everything, BENCH_SECS=1.5 s per benchmark (a few minutes)
#   BENCH_SECS=0.2 bench/run.sh     # a quick smoke run
#   bench/run.sh w4_mnist           # a criterion filter: only the matching benchmarks
#
# The builds use separate target directories (target/bench-default, target/bench-native), so their
# criterion results (<dir>/criterion) never overwrite each other and switching RUSTFLAGS does not
# rebuild the other one. Run on an idle machine: the numbers are wall-clock medians.
set -euo pipefail
cd "$(dirname "$0")/.."

export BENCH_SECS="${BENCH_SECS:-1.5}"
source bench/builds.sh

for build in "${ALL_BUILDS[@]}"; do
    IFS='|' read -r name flags features _ <<<"$build"
    echo "=== $name build: RUSTFLAGS=\"$flags\" CARGO_TARGET_DIR=target/bench-$name BENCH_SECS=$BENCH_SECS" \
        "--features $features" >&2
    bench_cargo "$name" "$flags" "$features" -- "$@" >&2
done

{
    echo "## Results"
    echo
    machine_line
    for build in "${ALL_BUILDS[@]}"; do
        IFS='|' read -r name _ _ title <<<"$build"
        echo
        "$REPORT" "target/bench-$name/criterion" "$title"
    done
} | tee target/bench-report.md
