#!/usr/bin/env bash
# The generated networks' workloads at several revisions, measured in interleaved rounds: each
# round runs every revision's bench executable of every build, in a rotating order, and the report
# takes each benchmark's minimum median over the rounds (bench/before-after.py). For changes that
# must not make any workload slower, such as a redesign.
#
#   bench/before-after.sh 55a1651 HEAD                       # 3 rounds, every generated workload
#   ROUNDS=5 SETARCH="setarch x86_64 -R" bench/before-after.sh 55a1651 HEAD 'w3_digits/train'
#
# SETARCH runs each process with address-space randomisation off: some workloads have per-process
# fast and slow modes that follow it (BENCHMARKS.md, "Timing"). Each revision is checked out in a
# worktree under target/before-after/ and built three ways (default, native, native with `fma`).
set -euo pipefail
cd "$(dirname "$0")/.."
export BENCH_SECS="${BENCH_SECS:-1}"
ROUNDS="${ROUNDS:-3}"
(( $# >= 2 )) || { echo "usage: bench/before-after.sh REV REV... [FILTER]" >&2; exit 2; }
REVS=()
FILTER=generated
for arg in "$@"; do
    if git rev-parse --verify --quiet "$arg^{commit}" >/dev/null; then REVS+=("$arg"); else FILTER=$arg; fi
done
OUT=target/before-after
BUILDS=("default||avx512" "native|-C target-cpu=native|avx512" "native-fma|-C target-cpu=native|avx512,fma")
unset CARGO_ENCODED_RUSTFLAGS
declare -A EXE
for rev in "${REVS[@]}"; do
    sha=$(git rev-parse --short "$rev")
    tree="$PWD/$OUT/tree-$sha"
    [[ -d $tree ]] || git worktree add --detach --quiet "$tree" "$sha"
    for build in "${BUILDS[@]}"; do
        IFS='|' read -r name flags features <<<"$build"
        exe=$(cd "$tree" && RUSTFLAGS="$flags" CARGO_TARGET_DIR="$PWD/../target-$sha-$name" \
            cargo bench -p backprop-bench --features "$features" --bench workloads --no-run 2>&1 |
            sed -n 's/.*Executable .*(\(.*\)).*/\1/p' | tail -n 1)
        [[ $exe = /* ]] || exe="$tree/$exe"
        EXE[$sha-$name]=$exe
    done
done
SHAS=()
for rev in "${REVS[@]}"; do SHAS+=("$(git rev-parse --short "$rev")"); done
rm -rf "$OUT/results"
for round in $(seq "$ROUNDS"); do
    for build in "${BUILDS[@]}"; do
        name=${build%%|*}
        for k in "${!SHAS[@]}"; do
            sha=${SHAS[$(( (k + round) % ${#SHAS[@]} ))]}
            echo "=== round $round, $sha, $name build" >&2
            (cd bench && CARGO_TARGET_DIR="$PWD/../$OUT/results/$sha-$name/round-$round" \
                ${SETARCH:-} "${EXE[$sha-$name]}" --bench "$FILTER" >/dev/null)
        done
    done
done
echo "Machine: $(lscpu | sed -n 's/^Model name: *//p' | head -n 1), $(nproc) cores; $(rustc --version);" \
    "BENCH_SECS=$BENCH_SECS; $ROUNDS rounds; filter '$FILTER'; ${SETARCH:+$SETARCH; }$(date -u +%Y-%m-%d)."
python3 bench/before-after.py "$OUT/results" "${SHAS[@]}"
