#!/usr/bin/env bash
# Peak resident memory of the `mnist` example (issue 6): built with `cargo build --release
# --example mnist`, then the binary itself runs under GNU time (`/usr/bin/time -v`; installed with
# apt-get if missing), so that cargo's own memory is not counted.
#
#   bench/peak-rss.sh
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x /usr/bin/time ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq time >/dev/null
fi
cargo build --release --quiet --example mnist
LOG=target/mnist-time.log
/usr/bin/time -v target/release/examples/mnist 2> "$LOG" | tail -n 3
grep -E 'Maximum resident set size|Elapsed \(wall clock\)' "$LOG"
KB=$(sed -n 's/.*Maximum resident set size (kbytes): //p' "$LOG")
echo "peak RSS of the mnist example: $KB kB ($(awk -v k="$KB" 'BEGIN { printf "%.1f", k / 1024 }') MiB)"
