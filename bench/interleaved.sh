#!/usr/bin/env bash
# The four builds of bench/run.sh (default and native, each exact and with the `fma` feature),
# measured in interleaved rounds: round 1 of every build, then round 2 of every build, and so on.
# The report takes each benchmark's minimum median over the rounds, so a build is not judged by
# the minute it happened to run in (this VM's speed changes by up to 1.5-2x from minute to
# minute; see BENCHMARKS.md). Reports on stdout and in target/bench-interleaved.md.
#
#   bench/interleaved.sh                          # 3 rounds of 'w4_mnist|fma_peak|memory'
#   ROUNDS=5 bench/interleaved.sh 'w2_xor|w5'     # another filter, more rounds
#   BUILDS_MATCHING='default|native' bench/interleaved.sh   # only these builds (a regex)
set -euo pipefail
cd "$(dirname "$0")/.."

export BENCH_SECS="${BENCH_SECS:-1}"
ROUNDS="${ROUNDS:-3}"
FILTER="${1:-w4_mnist|fma_peak|memory}"
source bench/builds.sh

BUILDS=()
for build in "${ALL_BUILDS[@]}"; do
    [[ "${build%%|*}" =~ ^(${BUILDS_MATCHING:-.*})$ ]] && BUILDS+=("$build")
done

declare -A EXE
for build in "${BUILDS[@]}"; do
    IFS='|' read -r name flags features _ <<<"$build"
    # The bench executable, built as bench/run.sh builds it (cargo prints its path).
    exe=$(bench_cargo "$name" "$flags" "$features" --no-run 2>&1 | sed -n 's/.*Executable .*(\(.*\)).*/\1/p' | tail -n 1)
    [[ "$exe" = /* ]] || exe="$PWD/$exe"
    [[ -x "$exe" ]] || { echo "interleaved.sh: no bench executable for $name" >&2; exit 1; }
    EXE[$name]=$exe
done

for round in $(seq "$ROUNDS"); do
    for build in "${BUILDS[@]}"; do
        IFS='|' read -r name _ <<<"$build"
        echo "=== round $round, $name build (BENCH_SECS=$BENCH_SECS, filter '$FILTER')" >&2
        rm -rf "target/bench-$name/round-$round"
        # Criterion writes its results under $CARGO_TARGET_DIR/criterion; it runs from bench/.
        (cd bench && CARGO_TARGET_DIR="$PWD/../target/bench-$name/round-$round" \
            "${EXE[$name]}" --bench "$FILTER" >/dev/null)
    done
done

{
    echo "## Interleaved rounds"
    echo
    machine_line "$ROUNDS rounds; filter '$FILTER'; "
    for build in "${BUILDS[@]}"; do
        IFS='|' read -r name _ _ title <<<"$build"
        dirs=$(for round in $(seq "$ROUNDS"); do printf '%s:' "target/bench-$name/round-$round/criterion"; done)
        echo
        "$REPORT" "${dirs%:}" "$title"
    done
} | tee target/bench-interleaved.md
