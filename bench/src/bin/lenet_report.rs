//! Prints the LeNet table of `BENCHMARKS.md` from criterion's results of `benches/lenet.rs`.
//!
//! ```text
//! cargo run -p backprop-bench --bin lenet_report -- TITLE=DIR[:DIR...] [TITLE=DIR[:DIR...]...]
//! ```
//!
//! One build per argument: its title, and its criterion directories (one per round; each
//! benchmark's time is the minimum of its medians over the rounds, as `report` takes them). For
//! each build: the FMA peak of its runs, then per mode the times of the generated network and of
//! the hand-written one, their ratio, and the generated network's GFLOP/s and share of the peak.

use std::fmt::Write as _;
use std::path::PathBuf;

use backprop_bench::lenet::{self, BATCH};
use backprop_bench::peak;
use backprop_bench::results::median;

/// The modes: criterion group, title, flops per call.
fn modes() -> [(&'static str, &'static str, f64); 4] {
    [
        ("lenet_infer", "inference, one sample", lenet::infer_flops()),
        ("lenet_train_b1", "train step, one sample", lenet::train_flops(1)),
        ("lenet_train_b32", "train step, batch of 32", lenet::train_flops(BATCH)),
        ("lenet_conv_b32", "conv layers' share of the batch-32 step", lenet::conv_train_flops(BATCH)),
    ]
}

/// A time in µs with three decimals below 10 µs, one above.
fn us(ns: f64) -> String {
    if ns < 10_000.0 { format!("{:.3}", ns / 1e3) } else { format!("{:.1}", ns / 1e3) }
}

/// The report of the builds given as `(title, directories)`.
fn report(builds: &[(String, Vec<PathBuf>)]) -> String {
    let mut out = String::new();
    let w = &mut out;
    writeln!(w, "FMA peak of one core in each build's runs (the faster of the 256- and 512-bit kernels):\n")
        .unwrap();
    writeln!(w, "| build | AVX2 FMA (GFLOP/s) | AVX-512 FMA (GFLOP/s) | peak |").unwrap();
    writeln!(w, "|---|---:|---:|---:|").unwrap();
    let mut peaks = Vec::new();
    for (title, dirs) in builds {
        let rate = |id: &str, lanes: usize| median(dirs, &["lenet_peak", id]).map(|t| peak::flops(lanes) / t);
        let (avx2, avx512) = (rate("avx2_256", 8), rate("avx512_512", 16));
        let best = avx2.into_iter().chain(avx512).reduce(f64::max);
        let cell = |g: Option<f64>| g.map_or("n/a".into(), |g| format!("{g:.1}"));
        writeln!(w, "| {title} | {} | {} | **{}** |", cell(avx2), cell(avx512), cell(best)).unwrap();
        peaks.push(best);
    }
    writeln!(w, "\nTime per call (µs, median; the minimum over the rounds), generated / hand-written, and the generated network's GFLOP/s with its share of its build's peak:\n").unwrap();
    writeln!(w, "| mode | flops | build | generated | hand-written direct | generated / direct | generated GFLOP/s (share of peak) |").unwrap();
    writeln!(w, "|---|---:|---|---:|---:|---:|---:|").unwrap();
    for (id, name, flops) in modes() {
        for ((title, dirs), peak) in builds.iter().zip(&peaks) {
            let (g, d) = (median(dirs, &[id, "generated"]), median(dirs, &[id, "direct"]));
            let time = |t: Option<f64>| t.map_or("—".into(), us);
            let ratio = g.zip(d).map_or("—".into(), |(g, d)| format!("{:.2}", g / d));
            let rate = g.map_or("n/a".into(), |g| {
                let gflops = flops / g;
                peak.map_or(format!("{gflops:.2}"), |p| format!("{gflops:.2} ({:.1}%)", 100.0 * gflops / p))
            });
            let flops = if flops < 1e6 { format!("{flops:.0}") } else { format!("{:.2} M", flops / 1e6) };
            writeln!(w, "| {name} | {flops} | {title} | {} | {} | {ratio} | {rate} |", time(g), time(d))
                .unwrap();
        }
    }
    out
}

fn main() {
    let builds: Vec<(String, Vec<PathBuf>)> = std::env::args()
        .skip(1)
        .map(|arg| {
            let (title, dirs) =
                arg.split_once('=').unwrap_or_else(|| panic!("{arg:?} is not TITLE=DIR[:DIR...]"));
            (title.to_string(), std::env::split_paths(dirs).collect())
        })
        .collect();
    assert!(!builds.is_empty(), "usage: lenet_report TITLE=DIR[:DIR...] ...");
    print!("{}", report(&builds));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_each_mode_and_the_peak() {
        let dir = std::env::temp_dir().join(format!("lenet-report-{}", std::process::id()));
        let write = |parts: &[&str], ns: f64| {
            let mut path = dir.clone();
            path.extend(parts);
            path.push("new");
            std::fs::create_dir_all(&path).unwrap();
            let json = format!(r#"{{"median":{{"confidence_interval":{{}},"point_estimate":{ns}}}}}"#);
            std::fs::write(path.join("estimates.json"), json).unwrap();
        };
        write(&["lenet_peak", "avx2_256"], peak::flops(8) / 100.0); // 100 GFLOP/s
        write(&["lenet_train_b32", "generated"], 2_000_000.0);
        write(&["lenet_train_b32", "direct"], 8_000_000.0);
        let text = report(&[("native".into(), vec![dir.clone()])]);
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(text.contains("| native | 100.0 | n/a | **100.0** |"), "{text}");
        let gflops = lenet::train_flops(BATCH) / 2_000_000.0;
        let row = format!("| native | 2000.0 | 8000.0 | 0.25 | {gflops:.2} ({:.1}%) |", gflops);
        assert!(text.contains(&row), "{text}");
        assert!(text.contains("| inference, one sample | 563280 | native | — | — | — | n/a |"), "{text}");
    }
}
