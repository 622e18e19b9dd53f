#!/usr/bin/env bash
# The LeNet benchmark (issue 19, benches/lenet.rs): the four builds of bench/builds.sh (default and
# native, each with and without the `fma` feature) in interleaved rounds, round 1 of every build,
# then round 2, and so on, then one table (each benchmark's minimum median over the rounds) on
# stdout and in target/bench-lenet.md, with the load of the machine before and after.
#
#   bench/lenet.sh                  # 3 rounds, BENCH_SECS=1 per benchmark
#   ROUNDS=5 BENCH_SECS=2 bench/lenet.sh
set -euo pipefail
cd "$(dirname "$0")/.."

export BENCH_SECS="${BENCH_SECS:-1}"
ROUNDS="${ROUNDS:-3}"
source bench/builds.sh
cargo build --release --quiet -p backprop-bench --bin lenet_report

declare -A EXE
for build in "${ALL_BUILDS[@]}"; do
    IFS='|' read -r name flags features _ <<<"$build"
    exe=$(RUSTFLAGS="$flags" CARGO_TARGET_DIR="$PWD/target/bench-$name" \
        cargo bench -p backprop-bench --features "$features" --bench lenet --no-run 2>&1 |
        sed -n 's/.*Executable .*(\(.*\)).*/\1/p' | tail -n 1)
    [[ "$exe" = /* ]] || exe="$PWD/$exe"
    [[ -x "$exe" ]] || { echo "lenet.sh: no bench executable for $name" >&2; exit 1; }
    EXE[$name]=$exe
done

LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
for round in $(seq "$ROUNDS"); do
    for build in "${ALL_BUILDS[@]}"; do
        IFS='|' read -r name _ <<<"$build"
        echo "=== round $round, $name build (BENCH_SECS=$BENCH_SECS)" >&2
        rm -rf "target/bench-$name/lenet-$round"
        (cd bench && CARGO_TARGET_DIR="$PWD/../target/bench-$name/lenet-$round" "${EXE[$name]}" --bench >/dev/null)
    done
done
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)

ARGS=()
for build in "${ALL_BUILDS[@]}"; do
    IFS='|' read -r name _ _ _ <<<"$build"
    dirs=$(for round in $(seq "$ROUNDS"); do printf '%s:' "target/bench-$name/lenet-$round/criterion"; done)
    ARGS+=("$name=${dirs%:}")
done
{
    echo "## LeNet"
    echo
    machine_line "$ROUNDS rounds; load average $LOAD_BEFORE before, $LOAD_AFTER after; "
    echo
    target/release/lenet_report "${ARGS[@]}"
} | tee target/bench-lenet.md
