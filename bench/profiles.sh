#!/usr/bin/env bash
# The workloads under the release profiles users set (issue 17): cargo's default release,
# `codegen-units = 1`, fat LTO with `codegen-units = 1`, and `opt-level = "s"`, each in the
# default and the native (`-C target-cpu=native`) build. The hand-written baselines live in the
# same executable, so they are compiled the same way. One bench executable per profile and target
# (the profile set through cargo's CARGO_PROFILE_BENCH_* variables, each build in a target
# directory of its own), run in interleaved rounds in a rotating order; the report
# (bench/profiles.py) takes each benchmark's minimum median over the rounds.
#
#   bench/profiles.sh                                   # the working tree, 3 rounds, W1-W5
#   bench/profiles.sh 4322396 HEAD 'w4_mnist'           # revisions, interleaved; a criterion filter
#   ROUNDS=5 PROFILES='release|cgu1' TARGETS=native bench/profiles.sh   # some profiles / targets
#   FEATURES=avx512,fma bench/profiles.sh               # with backprop's `fma` feature
#   BUILD_ONLY=1 bench/profiles.sh                      # build the executables, time nothing
#   NO_BUILD=1 bench/profiles.sh                        # time the executables already built
#
# A revision is checked out in a worktree under target/profiles/; its executables are kept in
# target/profiles/bin/ and reused. Reports on stdout and in target/profiles/report.md.
set -euo pipefail
cd "$(dirname "$0")/.."
export BENCH_SECS="${BENCH_SECS:-1}"
ROUNDS="${ROUNDS:-3}"
FEATURES="${FEATURES:-avx512}"
unset CARGO_ENCODED_RUSTFLAGS CARGO_TARGET_DIR
REVS=()
FILTER="w1_toy|w2_xor|w3_digits|w4_mnist|w5_deep"
for arg in "$@"; do
    if [[ $arg = worktree ]] || git rev-parse --verify --quiet "$arg^{commit}" >/dev/null; then
        REVS+=("$arg")
    else
        FILTER=$arg
    fi
done
(( ${#REVS[@]} )) || REVS=(worktree)

# name | profile variables
ALL_PROFILES=(
    "release|"
    "cgu1|CARGO_PROFILE_BENCH_CODEGEN_UNITS=1"
    "lto|CARGO_PROFILE_BENCH_LTO=fat CARGO_PROFILE_BENCH_CODEGEN_UNITS=1"
    "s|CARGO_PROFILE_BENCH_OPT_LEVEL=s"
)
# name | RUSTFLAGS
ALL_TARGETS=("default|" "native|-C target-cpu=native")

OUT=target/profiles
mkdir -p "$OUT/bin"
suffix=${FEATURES//[^a-z0-9]/-}
RUNS=() NAMES=()
for rev in "${REVS[@]}"; do
    if [[ $rev = worktree ]]; then
        tree=$PWD name=worktree
    else
        name=$(git rev-parse --short "$rev")
        tree="$PWD/$OUT/tree-$name"
        [[ -d $tree ]] || git worktree add --detach --quiet "$tree" "$name"
    fi
    NAMES+=("$name")
    for target in "${ALL_TARGETS[@]}"; do
        IFS='|' read -r tname flags <<<"$target"
        [[ $tname =~ ^(${TARGETS:-.*})$ ]] || continue
        for profile in "${ALL_PROFILES[@]}"; do
            IFS='|' read -r pname vars <<<"$profile"
            [[ $pname =~ ^(${PROFILES:-.*})$ ]] || continue
            run="$name-$tname-$pname-$suffix"
            RUNS+=("$run")
            # A commit's executables do not change: built once.
            [[ ( $name != worktree || -n ${NO_BUILD:-} ) && -x $OUT/bin/$run ]] && continue
            echo "=== building $run: RUSTFLAGS=\"$flags\" $vars --features $FEATURES" >&2
            # cargo prints the executable's path.
            exe=$(cd "$tree" && env $vars RUSTFLAGS="$flags" CARGO_TARGET_DIR="$PWD/target/profiles/target-$tname-$pname-$suffix" \
                cargo bench -p backprop-bench --features "$FEATURES" --bench workloads --no-run 2>&1 |
                tee -a /dev/stderr | sed -n 's/.*Executable .*(\(.*\)).*/\1/p' | tail -n 1)
            [[ $exe = /* ]] || exe="$tree/$exe"
            [[ -x $exe ]] || { echo "profiles.sh: no bench executable for $run" >&2; exit 1; }
            cp "$exe" "$OUT/bin/$run"
        done
    done
done
[[ -n ${BUILD_ONLY:-} ]] && exit 0

rm -rf "$OUT/results"
for round in $(seq "$ROUNDS"); do
    for k in "${!RUNS[@]}"; do
        run=${RUNS[$(( (k + round) % ${#RUNS[@]} ))]}
        echo "=== round $round, $run (filter '$FILTER')" >&2
        (cd bench && CARGO_TARGET_DIR="$PWD/../$OUT/results/$run/round-$round" \
            ${SETARCH:-} "../$OUT/bin/$run" --bench "$FILTER" >/dev/null)
    done
done
{
    echo "Machine: $(lscpu | sed -n 's/^Model name: *//p' | head -n 1), $(nproc) cores; $(rustc --version);" \
        "load average at the end $(cut -d' ' -f1-3 /proc/loadavg); BENCH_SECS=$BENCH_SECS; $ROUNDS rounds;" \
        "features $FEATURES; filter '$FILTER'; $(date -u +%Y-%m-%d)."
    python3 bench/profiles.py "$OUT/results" "${NAMES[@]}"
} | tee "$OUT/report.md"
