//! Prints the Markdown tables of `BENCHMARKS.md` from criterion's results.
//!
//! ```text
//! cargo run -p backprop-bench --bin report -- [CRITERION_DIR[:CRITERION_DIR...]] [TITLE]
//! ```
//!
//! `CRITERION_DIR` defaults to `target/criterion`. For every benchmark the median
//! (`median.point_estimate` of `<group>/<function>/<impl>/new/estimates.json`, in ns) is read;
//! missing results print as `n/a`. Given several directories (separated by `:`, the results of
//! several runs, as `bench/interleaved.sh` makes them), each benchmark's time is the minimum of its
//! medians over the runs: the run least disturbed by whatever else the machine was doing. The
//! output depends only on those files: same results, same text.

use std::fmt::Write as _;
use std::path::PathBuf;

use backprop_bench::peak;
use backprop_bench::results::median;
use backprop_bench::workload::{WORKLOADS, Workload};

/// The implementations, in column order: criterion id and column title.
const IMPLS: [(&str, &str); 3] =
    [("generated", "generated"), ("straight", "straight loops"), ("accum", "16 accumulators")];

/// The FMA peak kernels: criterion id, title, and flops per call.
const PEAK: [(&str, &str, usize); 3] = [
    ("avx2_256", "AVX2 `_mm256_fmadd_ps` (8 lanes)", 8),
    ("avx512_512", "AVX-512 `_mm512_fmadd_ps` (16 lanes)", 16),
    ("portable", "portable `f32::mul_add` (8 lanes)", peak::PORTABLE_LANES),
];

/// The unfused multiply-add kernel (`peak::unfused_avx2`): criterion id, title, flops per call.
const UNFUSED: (&str, &str, usize) =
    ("unfused_avx2_256", "AVX2 `_mm256_mul_ps` + `_mm256_add_ps` (8 lanes)", 8);

/// A time in ns, with about four significant digits.
fn ns(t: f64) -> String {
    if t >= 100_000.0 {
        format!("{:.0}", t)
    } else if t >= 100.0 {
        format!("{t:.1}")
    } else {
        format!("{t:.2}")
    }
}

/// A flop count: exact below a million, else in MFLOP.
fn flops(f: f64) -> String {
    if f < 1e6 { format!("{f:.0}") } else { format!("{:.2} M", f / 1e6) }
}

fn cell(value: Option<String>) -> String {
    value.unwrap_or_else(|| "n/a".into())
}

/// One build's report.
fn report(dir: &[PathBuf], title: &str) -> String {
    let mut out = String::new();
    let w = &mut out;
    writeln!(w, "### {title}\n").unwrap();
    match dir {
        [one] => writeln!(w, "Criterion medians from `{}`.\n", one.display()).unwrap(),
        runs => writeln!(
            w,
            "The minimum over {} runs of each criterion median, from `{}`.\n",
            runs.len(),
            runs.iter().map(|d| d.display().to_string()).collect::<Vec<_>>().join("`, `")
        )
        .unwrap(),
    }

    // The peak.
    writeln!(
        w,
        "FMA peak of one core, measured ({} chains × {} iterations per call):\n",
        peak::CHAINS,
        peak::ITERS
    )
    .unwrap();
    writeln!(w, "| kernel | ns per call | GFLOP/s |").unwrap();
    writeln!(w, "|---|---:|---:|").unwrap();
    let mut best_peak: Option<f64> = None;
    for (id, name, lanes) in PEAK {
        if let Some(t) = median(dir, &["fma_peak", id]) {
            let gflops = peak::flops(lanes) / t;
            best_peak = Some(best_peak.map_or(gflops, |b: f64| b.max(gflops)));
            writeln!(w, "| {name} | {} | {gflops:.1} |", ns(t)).unwrap();
        }
    }
    let peak_text = best_peak.map_or("n/a".into(), |p| format!("**{p:.1} GFLOP/s**"));
    writeln!(w, "\nPeak (the fastest kernel): {peak_text}.\n").unwrap();
    // The ceilings: criterion id, what it is, flops per call.
    let ceilings = [
        (
            UNFUSED.0,
            format!("Ceiling of the crate's exact kernels (multiply, then add; not a peak): {},", UNFUSED.1),
            peak::flops(UNFUSED.2),
        ),
        (
            "gemm_loop_avx512",
            "Ceiling of the `fma` batched `W x` loop on data in L1 (4 samples × 4 rows, 8 loads per 16 \
             FMAs; not a peak):"
                .into(),
            peak::LOOP_FLOPS,
        ),
    ];
    for (id, what, flops) in ceilings {
        if let Some(t) = median(dir, &["fma_peak", id]) {
            let gflops = flops / t;
            let share =
                best_peak.map_or(String::new(), |p| format!(", {:.1}% of the peak", 100.0 * gflops / p));
            writeln!(w, "{what} {} ns per call, **{gflops:.1} GFLOP/s**{share}.\n", ns(t)).unwrap();
        }
    }

    // The memory floor of W4 batch 1.
    if let (Some(read), Some(rmw)) =
        (median(dir, &["memory", "read_401k"]), median(dir, &["memory", "rmw_401k"]))
    {
        let floor = read + rmw;
        let w4 = WORKLOADS.iter().find(|w| w.id == "w4_mnist_b1").expect("W4 batch 1");
        let share =
            |flops: f64| best_peak.map_or("n/a".into(), |p| format!("{:.1}%", 100.0 * flops / floor / p));
        writeln!(
            w,
            "Memory floor of the W4 batch-1 train step (its first layer's 401 kB of weights, in L2, \
             read once, then read and written once; aligned, AVX2 loads): {} + {} = **{} ns**, so at \
             most **{}** of the peak by the nominal count ({} flops), {} by the flops executed.\n",
            ns(read),
            ns(rmw),
            ns(floor),
            share(w4.train_flops()),
            flops(w4.train_flops()),
            share(w4.executed_train_flops()),
        )
        .unwrap();
    }

    // The activations alone (if they ran: a filtered run may leave them out).
    let ran = |function: &str| median(dir, &["activations", function, "backprop"]).is_some();
    if ["exp", "sigmoid", "tanh"].into_iter().any(ran) {
        activation_table(w, dir);
    }

    // The kernels on layers with leftover columns (if they ran).
    kernel_tails_table(w, dir);

    // Times.
    writeln!(w, "Time per step (ns, median; lower is better) and generated / best hand-written:\n").unwrap();
    write!(w, "| workload | mode | flops per step |").unwrap();
    for (_, name) in IMPLS {
        write!(w, " {name} |").unwrap();
    }
    writeln!(w, " generated / best hand-written |").unwrap();
    writeln!(w, "|---|---|---:|---:|---:|---:|---:|").unwrap();
    let rows = rows(dir);
    for row in &rows {
        write!(w, "| {} | {} | {} |", row.workload.name, row.mode, flops(row.flops)).unwrap();
        for t in row.times {
            write!(w, " {} |", cell(t.map(ns))).unwrap();
        }
        let ratio = match row.times {
            [Some(g), s, a] => {
                [s, a].into_iter().flatten().reduce(f64::min).map(|best| format!("{:.2}", g / best))
            }
            _ => None,
        };
        writeln!(w, " {} |", cell(ratio)).unwrap();
    }

    // Throughput.
    writeln!(w, "\nAchieved GFLOP/s (nominal flops / median time) and share of the measured peak:\n")
        .unwrap();
    write!(w, "| workload | mode |").unwrap();
    for (_, name) in IMPLS {
        write!(w, " {name} |").unwrap();
    }
    writeln!(w).unwrap();
    writeln!(w, "|---|---|---:|---:|---:|").unwrap();
    for row in &rows {
        write!(w, "| {} | {} |", row.workload.name, row.mode).unwrap();
        for t in row.times {
            let text = t.map(|t| {
                let gflops = row.flops / t;
                match best_peak {
                    Some(p) => format!("{gflops:.2} ({:.1}%)", 100.0 * gflops / p),
                    None => format!("{gflops:.2}"),
                }
            });
            write!(w, " {} |", cell(text)).unwrap();
        }
        writeln!(w).unwrap();
    }

    // The train steps by what they execute.
    writeln!(
        w,
        "\nGenerated train steps by the flops they execute (the nominal count includes the first \
         layer's `dx`, which no implementation computes):\n"
    )
    .unwrap();
    writeln!(w, "| workload | flops executed | GFLOP/s | share of the peak |").unwrap();
    writeln!(w, "|---|---:|---:|---:|").unwrap();
    for row in rows.iter().filter(|r| r.mode == "train") {
        let executed = row.workload.executed_train_flops();
        let (gflops, share) = match (row.times[0], best_peak) {
            (Some(t), Some(p)) => {
                (format!("{:.2}", executed / t), format!("{:.1}%", 100.0 * executed / t / p))
            }
            (Some(t), None) => (format!("{:.2}", executed / t), "n/a".into()),
            _ => ("n/a".into(), "n/a".into()),
        };
        writeln!(w, "| {} | {} | {gflops} | {share} |", row.workload.name, flops(executed)).unwrap();
    }
    out
}

/// The activation costs alone, ns per value.
fn activation_table(w: &mut String, dir: &[PathBuf]) {
    writeln!(w, "Activation cost alone, ns per value (1,024 `f32` values in [-5, 5)):\n").unwrap();
    writeln!(w, "| function | backprop | std (glibc) | libm |").unwrap();
    writeln!(w, "|---|---:|---:|---:|").unwrap();
    for function in ["exp", "sigmoid", "tanh"] {
        write!(w, "| {function} |").unwrap();
        for source in ["backprop", "std", "libm"] {
            let t = median(dir, &["activations", function, source]).map(|t| format!("{:.2}", t / 1024.0));
            write!(w, " {} |", t.unwrap_or_else(|| "".into())).unwrap();
        }
        writeln!(w).unwrap();
    }
    writeln!(w).unwrap();
}

/// The kernels of the `kernel_tails` benchmark: criterion id and title.
const TAIL_KERNELS: [(&str, &str); 5] = [
    ("gemv", "`gemv`, one sample"),
    ("gemm_32", "`gemm`, 32 samples"),
    ("backward_sgd", "`backward_sgd`, one sample"),
    ("gemm_t_32", "`gemm_t`, 32 samples"),
    ("gemm_outer_sgd_32", "`gemm_outer_sgd`, 32 samples"),
];

/// The layer shapes of the `kernel_tails` benchmark, `inputs x neurons` as in its criterion ids.
const TAIL_SHAPES: [&str; 4] = ["12x64", "24x64", "50x32", "100x30"];

/// The exact kernels on layers whose inputs leave columns past the register tiles, ns per call
/// (`kernel_tails/<kernel>/<shape>`), if any of them ran.
fn kernel_tails_table(w: &mut String, dir: &[PathBuf]) {
    let time = |kernel: &str, shape: &str| median(dir, &["kernel_tails", kernel, shape]);
    if !TAIL_KERNELS.iter().any(|(k, _)| TAIL_SHAPES.iter().any(|s| time(k, s).is_some())) {
        return;
    }
    writeln!(w, "Exact kernels on layers with leftover columns, ns per call (median):\n").unwrap();
    write!(w, "| kernel |").unwrap();
    for shape in TAIL_SHAPES {
        write!(w, " {} |", shape.replace('x', " × ")).unwrap();
    }
    writeln!(w, "\n|---|{}", "---:|".repeat(TAIL_SHAPES.len())).unwrap();
    for (kernel, title) in TAIL_KERNELS {
        write!(w, "| {title} |").unwrap();
        for shape in TAIL_SHAPES {
            write!(w, " {} |", cell(time(kernel, shape).map(ns))).unwrap();
        }
        writeln!(w).unwrap();
    }
    writeln!(w).unwrap();
}

/// One line of the tables.
struct Row {
    workload: Workload,
    mode: &'static str,
    flops: f64,
    /// Median ns per step of each of [`IMPLS`].
    times: [Option<f64>; 3],
}

fn rows(dir: &[PathBuf]) -> Vec<Row> {
    let mut rows = Vec::new();
    for workload in WORKLOADS {
        for (mode, flops) in [("inference", workload.infer_flops()), ("train", workload.train_flops())] {
            let function = if mode == "inference" { "infer" } else { "train" };
            // Per step: a call of a sequence workload runs `steps` of them.
            let times = IMPLS
                .map(|(id, _)| median(dir, &[workload.id, function, id]).map(|t| t / workload.steps as f64));
            // A filtered run leaves some workloads out: no line for them.
            if times.iter().any(Option::is_some) {
                rows.push(Row { workload, mode, flops, times });
            }
        }
    }
    rows
}

fn main() {
    let mut args = std::env::args().skip(1);
    let dirs: Vec<PathBuf> = args
        .next()
        .map_or_else(|| vec![PathBuf::from("target/criterion")], |a| std::env::split_paths(&a).collect());
    let title = args.next().unwrap_or_else(|| "Results".into());
    if let Some(missing) = dirs.iter().find(|d| !d.is_dir()) {
        eprintln!(
            "report: no criterion results in {} (run `cargo bench -p backprop-bench` first)",
            missing.display()
        );
        std::process::exit(1);
    }
    print!("{}", report(&dirs, &title));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernel_tails_table_reads_each_kernel_and_shape() {
        let dir = std::env::temp_dir().join(format!("report-tails-{}", std::process::id()));
        let estimates = dir.join("kernel_tails/gemm_t_32/24x64/new");
        std::fs::create_dir_all(&estimates).unwrap();
        let json = r#"{"median":{"confidence_interval":{},"point_estimate":1592.04}}"#;
        std::fs::write(estimates.join("estimates.json"), json).unwrap();
        let mut out = String::new();
        kernel_tails_table(&mut out, std::slice::from_ref(&dir));
        let row = out.lines().find(|l| l.starts_with("| `gemm_t`")).expect("a gemm_t row");
        assert_eq!(row, "| `gemm_t`, 32 samples | n/a | 1592.0 | n/a | n/a |");
        assert!(out.contains("| kernel | 12 × 64 | 24 × 64 | 50 × 32 | 100 × 30 |"));
        let mut none = String::new();
        kernel_tails_table(&mut none, &[dir.join("nothing")]);
        assert!(none.is_empty(), "no table without results");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn formats() {
        assert_eq!(ns(21.664), "21.66");
        assert_eq!(ns(1234.56), "1234.6");
        assert_eq!(ns(1_234_567.8), "1234568");
        assert_eq!(flops(48.0), "48");
        assert_eq!(flops(3_219_456.0), "3.22 M");
    }
}
