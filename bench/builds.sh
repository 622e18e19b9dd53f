# The builds that bench/run.sh and bench/interleaved.sh measure, and what both do with them.
# Sourced, not run; the caller has cd'd to the repository root.

# name | RUSTFLAGS | features of backprop-bench | report title. Each build has its own target
# directory, target/bench-<name>, so its criterion results never overwrite another's.
ALL_BUILDS=(
    "default||avx512|Default build (no RUSTFLAGS)"
    "native|-C target-cpu=native|avx512|Native build (RUSTFLAGS=\"-C target-cpu=native\")"
    "default-fma||avx512,fma|Default build, \`fma\` feature (FMA kernels for big f32 layers)"
    "native-fma|-C target-cpu=native|avx512,fma|Native build, \`fma\` feature (FMA kernels for big f32 layers)"
)

unset CARGO_ENCODED_RUSTFLAGS

# `cargo bench` of the workloads for one build: bench_cargo NAME FLAGS FEATURES [cargo args...].
bench_cargo() {
    local name=$1 flags=$2 features=$3
    shift 3
    # Absolute: criterion runs in bench/ and resolves CARGO_TARGET_DIR from there.
    RUSTFLAGS="$flags" CARGO_TARGET_DIR="$PWD/target/bench-$name" \
        cargo bench -p backprop-bench --features "$features" --bench workloads "$@"
}

# The report binary, built once with default flags in the ordinary target directory.
RUSTFLAGS="" cargo build --release --quiet -p backprop-bench --bin report
REPORT=target/release/report

# The first line of a report file: machine, toolchain, date, and whatever the caller adds.
machine_line() {
    echo "Machine: $(lscpu | sed -n 's/^Model name: *//p' | head -n 1), $(nproc) cores;" \
        "$(rustc --version); BENCH_SECS=$BENCH_SECS; $*$(date -u +%Y-%m-%d)."
}
