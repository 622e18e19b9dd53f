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
unset CARGO_ENCODED_RUSTFLAGS

# The report binary itself is built once, with default flags, in the ordinary target directory.
RUSTFLAGS="" cargo build --release --quiet -p backprop-bench --bin report
REPORT=target/release/report

bench() { # name rustflags features [criterion args...]
    local name=$1 flags=$2 features=$3
    shift 3
    echo "=== $name build: RUSTFLAGS=\"$flags\" CARGO_TARGET_DIR=target/bench-$name BENCH_SECS=$BENCH_SECS" \
        "--features $features" >&2
    # Absolute: criterion runs in bench/ and resolves CARGO_TARGET_DIR from there.
    RUSTFLAGS="$flags" CARGO_TARGET_DIR="$PWD/target/bench-$name" \
        cargo bench -p backprop-bench --features "$features" --bench workloads -- "$@" >&2
}

bench default "" avx512 "$@"
bench native "-C target-cpu=native" avx512 "$@"
bench default-fma "" avx512,fma "$@"
bench native-fma "-C target-cpu=native" avx512,fma "$@"

{
    echo "## Results"
    echo
    echo "Machine: $(lscpu | sed -n 's/^Model name: *//p' | head -n 1), $(nproc) cores;" \
        "$(rustc --version); BENCH_SECS=$BENCH_SECS; $(date -u +%Y-%m-%d)."
    echo
    "$REPORT" target/bench-default/criterion "Default build (no RUSTFLAGS)"
    echo
    "$REPORT" target/bench-native/criterion 'Native build (RUSTFLAGS="-C target-cpu=native")'
    echo
    "$REPORT" target/bench-default-fma/criterion 'Default build, `fma` feature (FMA kernels for big f32 layers)'
    echo
    "$REPORT" target/bench-native-fma/criterion 'Native build, `fma` feature (FMA kernels for big f32 layers)'
} | tee target/bench-report.md
