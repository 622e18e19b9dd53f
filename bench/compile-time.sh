#!/usr/bin/env bash
# Compile time of a network's declaration (issue 6): how much longer `cargo check` and
# `cargo build --release` take for a binary crate declaring the 784-128-10 MNIST network than for
# one declaring the 2-2-1 toy. Both crates are generated in a temporary workspace, depend on the
# facade by path, and use it the same way (forward, train_step, loss on f32, so that the release
# build monomorphises and optimises the network's code). Dependencies are built first; then only
# the final crate is timed: `touch` its source and rebuild, RUNS times (default 5), median.
#
#   bench/compile-time.sh
#   FEATURES=fma bench/compile-time.sh    # the same with backprop's features (here: the FMA kernels)
set -euo pipefail
REPO="$(cd "$(dirname "$0")/.." && pwd)"
RUNS="${RUNS:-5}"
FEATURES="${FEATURES:-}"
FEATURE_LIST=""
for feature in ${FEATURES//,/ }; do FEATURE_LIST+="${FEATURE_LIST:+, }\"$feature\""; done
TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT
unset CARGO_TARGET_DIR CARGO_ENCODED_RUSTFLAGS

cat > "$TMP/Cargo.toml" <<TOML
[workspace]
members = ["toy", "mnist"]
resolver = "3"
TOML
cp "$REPO/Cargo.lock" "$TMP/Cargo.lock"

make_crate() { # name struct inputs hidden activation outputs output-activation loss
    mkdir -p "$TMP/$1/src"
    cat > "$TMP/$1/Cargo.toml" <<TOML
[package]
name = "$1"
version = "0.0.0"
edition = "2024"
publish = false

[dependencies]
backprop = { path = "$REPO", features = [$FEATURE_LIST] }
TOML
    cat > "$TMP/$1/src/main.rs" <<RUST
use backprop::{Init, network};

network! {
    /// The network whose compile time is measured.
    #[loss($8)]
    pub struct $2 {
        input: $3,
        hidden: Dense<$4, $5>,
        output: Dense<$6, $7>,
    }
}

fn main() {
    let seed = std::env::args().count() as u64;
    let mut net: $2<f32> = Init::Auto.network(seed);
    let x = [std::hint::black_box(0.5f32); $3];
    let mut t = [0.0f32; $6];
    t[0] = 1.0;
    let before = net.loss(&x, &t);
    let trained = net.train_step(&x, &t, 0.01);
    println!("{:?} {before} {trained}", net.forward(&x));
}
RUST
}
make_crate toy Toy 2 2 Sigmoid 1 Sigmoid HalfSquaredError
make_crate mnist Mnist 784 128 Relu 10 Softmax SoftmaxCrossEntropy

cd "$TMP"
median() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
time_runs() { # crate cargo-args...
    local crate=$1
    shift
    for _ in $(seq "$RUNS"); do
        touch "$crate/src/main.rs"
        local start end
        start=$(date +%s.%N)
        cargo "$@" -q -p "$crate" >/dev/null
        end=$(date +%s.%N)
        awk -v a="$start" -v b="$end" 'BEGIN { print b - a }'
    done | median
}

echo "compile time of the final crate only, median of $RUNS runs ($(rustc --version)); features: ${FEATURES:-default}"
printf '| command | 2-2-1 toy (s) | 784-128-10 (s) | difference (s) |\n|---|---:|---:|---:|\n'
for cmd in "check" "build --release"; do
    # Dependencies (and a first build of each crate) outside the timing.
    cargo $cmd -q -p toy >/dev/null 2>&1
    cargo $cmd -q -p mnist >/dev/null 2>&1
    toy=$(time_runs toy $cmd)
    mnist=$(time_runs mnist $cmd)
    printf '| `cargo %s` | %.3f | %.3f | %+.3f |\n' "$cmd" "$toy" "$mnist" "$(awk -v a="$toy" -v b="$mnist" 'BEGIN { print b - a }')"
done
