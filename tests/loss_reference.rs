//! Every loss and every output delta against an independent 500-digit reference
//! (`tests/reference/losses.py`, run with mpmath; its output `losses.txt` is committed), over a
//! grid of extreme logits, in `f32` and `f64`.
//!
//! The measure of error is the distance in representable values between the result and the
//! correctly rounded exact value (so subnormals are measured on their fixed grid of `2^-149` in
//! `f32`, `2^-1074` in `f64`, and values that round to zero count as on that grid too). The bars:
//!
//! - every loss value, for any target: at most 8 values apart;
//! - every delta of a one-hot target (`t` all 0 or 1; for binary cross-entropy any `t` in `{0, 1}`
//!   per output): at most 8 values apart;
//! - every delta of a soft target: at most 8 values apart, or within
//!   `N ε · T · min(p, 1 - p)` absolute, where `p` is the exact probability, `T = Σ t` (`1` for
//!   binary cross-entropy) and `ε` the machine epsilon: `delta = p T - t` cancels when `p T ≈ t`,
//!   and no formula in the working precision resolves it better than the rounding of `p`;
//! - an exact zero (not merely one that rounds to zero): exactly `±0`.
//!
//! Run with `-- --nocapture` to see the worst error of each loss and type.

use backprop::{
    Activation, BinaryCrossEntropy, HalfSquaredError, Identity, Loss, Sigmoid, Softmax, SoftmaxCrossEntropy,
};

const DATA: &str = include_str!("reference/losses.txt");

/// Most representable values allowed between a result and the correctly rounded exact value.
const ULPS: u64 = 8;

/// What the test needs of `f32` and `f64` beyond `Scalar`.
trait Bits: backprop::Scalar + core::fmt::LowerExp {
    fn from_hex(s: &str) -> Self;
    /// The bit pattern as an integer in the order of the values (`-0` and `+0` both map to 0).
    fn ordered(self) -> i128;
}

impl Bits for f32 {
    fn from_hex(s: &str) -> Self {
        f32::from_bits(u32::from_str_radix(s.trim_start_matches("0x"), 16).unwrap())
    }
    fn ordered(self) -> i128 {
        let b = self.to_bits();
        let magnitude = i128::from(b & 0x7fff_ffff);
        if b >> 31 == 1 { -magnitude } else { magnitude }
    }
}

impl Bits for f64 {
    fn from_hex(s: &str) -> Self {
        f64::from_bits(u64::from_str_radix(s.trim_start_matches("0x"), 16).unwrap())
    }
    fn ordered(self) -> i128 {
        let b = self.to_bits();
        let magnitude = i128::from(b & 0x7fff_ffff_ffff_ffff);
        if b >> 63 == 1 { -magnitude } else { magnitude }
    }
}

/// An expected value: the exact zero, or the correctly rounded exact value.
#[derive(Clone, Copy, Debug)]
enum Expected<T> {
    Zero,
    Rounded(T),
}

fn expected<T: Bits>(s: &str) -> Expected<T> {
    if s == "exact0" { Expected::Zero } else { Expected::Rounded(T::from_hex(s)) }
}

/// How many representable values lie between `got` and `want` (`u64::MAX` for a NaN).
fn distance<T: Bits>(got: T, want: T) -> u64 {
    if got.to_f64().is_nan() {
        return u64::MAX;
    }
    u64::try_from((got.ordered() - want.ordered()).abs()).unwrap_or(u64::MAX)
}

/// The worst errors seen, for the summary.
#[derive(Default)]
struct Worst {
    loss: u64,
    one_hot_delta: u64,
    soft_delta: u64,
    soft_delta_beyond_ulps: usize,
    cases: usize,
    failed_values: usize,
}

#[derive(Default)]
struct Tally {
    failures: Vec<String>,
    worst: std::collections::BTreeMap<String, Worst>,
}

/// The activation and loss of each name in the data file.
fn evaluate<T: Bits, const N: usize>(kind: &str, z: &[T; N], t: &[T; N]) -> (T, T, [T; N]) {
    fn run<T: Bits, A: Activation, L: Loss<A>, const N: usize>(z: &[T; N], t: &[T; N]) -> (T, T, [T; N]) {
        let mut a = [T::ZERO; N];
        A::forward(z, &mut a);
        let mut delta = [T::ZERO; N];
        let with_delta = L::loss_and_delta(z, &a, t, &mut delta);
        (L::loss(z, &a, t), with_delta, delta)
    }
    match kind {
        "hse" => run::<T, Identity, HalfSquaredError, N>(z, t),
        "bce" => run::<T, Sigmoid, BinaryCrossEntropy, N>(z, t),
        "sce" => run::<T, Softmax, SoftmaxCrossEntropy, N>(z, t),
        _ => panic!("unknown loss {kind}"),
    }
}

fn check_case<T: Bits, const N: usize>(tally: &mut Tally, fields: &[&str], line: &str) {
    let (kind, ty) = (fields[0], fields[1]);
    let z: [T; N] = core::array::from_fn(|i| T::from_hex(fields[4 + i]));
    let t: [T; N] = core::array::from_fn(|i| T::from_hex(fields[5 + N + i]));
    let want_loss = expected::<T>(fields[6 + 2 * N]);
    let want_delta: [Expected<T>; N] = core::array::from_fn(|i| expected::<T>(fields[8 + 2 * N + i]));
    let (loss, with_delta, delta) = evaluate::<T, N>(kind, &z, &t);

    let one_hot = t.iter().all(|&v| v == T::ZERO || v == T::ONE)
        && (kind != "sce" || t.iter().filter(|&&v| v == T::ONE).count() == 1);
    let total: f64 = if kind == "sce" { t.iter().map(|v| v.to_f64()).sum() } else { 1.0 };
    let key = format!("{kind} {ty}");
    let worst = tally.worst.entry(key).or_default();
    worst.cases += 1;
    let failures = &mut tally.failures;
    let mut failed = 0;
    let mut fail = |what: String| {
        failed += 1;
        failures.push(format!("{line}\n    {what}"));
    };

    if loss.to_f64().to_bits() != with_delta.to_f64().to_bits() {
        fail(format!("loss {loss:e} differs from loss_and_delta's {with_delta:e}"));
    }
    match want_loss {
        Expected::Zero if loss != T::ZERO => fail(format!("loss {loss:e}, exact 0")),
        Expected::Zero => {}
        Expected::Rounded(want) => {
            let d = distance(loss, want);
            worst.loss = worst.loss.max(d);
            if d > ULPS {
                fail(format!("loss {loss:e} vs {want:e}: {d} ulps"));
            }
        }
    }
    for i in 0..N {
        let got = delta[i];
        match want_delta[i] {
            Expected::Zero if got != T::ZERO => fail(format!("delta[{i}] {got:e}, exact 0")),
            Expected::Zero => {}
            Expected::Rounded(want) => {
                let d = distance(got, want);
                if one_hot {
                    worst.one_hot_delta = worst.one_hot_delta.max(d);
                    if d > ULPS {
                        fail(format!("delta[{i}] {got:e} vs {want:e}: {d} ulps (one-hot)"));
                    }
                } else {
                    worst.soft_delta = worst.soft_delta.max(d);
                    if d > ULPS {
                        worst.soft_delta_beyond_ulps += 1;
                        // p T = delta + t (to within the rounding of the reference).
                        let pt = want.to_f64() + t[i].to_f64();
                        let bound = N as f64 * T::EPSILON.to_f64() * pt.min(total - pt);
                        let err = (got.to_f64() - want.to_f64()).abs();
                        if std::env::var_os("LOSS_REFERENCE_VERBOSE").is_some() {
                            println!(
                                "{kind} {ty} delta[{i}] {got:e} vs {want:e}: {err:.2e} = {:.3} of the bound",
                                err / bound
                            );
                        }
                        if err.is_nan() || err > bound {
                            fail(format!("delta[{i}] {got:e} vs {want:e}: {d} ulps, {err:e} > {bound:e}"));
                        }
                    }
                }
            }
        }
    }
    worst.failed_values += failed;
}

fn check_line<T: Bits>(tally: &mut Tally, line: &str) {
    let fields: Vec<&str> = line.split_whitespace().collect();
    let n: usize = fields[2].parse().unwrap();
    assert_eq!(fields.len(), 8 + 3 * n, "malformed line {line}");
    match n {
        1 => check_case::<T, 1>(tally, &fields, line),
        2 => check_case::<T, 2>(tally, &fields, line),
        3 => check_case::<T, 3>(tally, &fields, line),
        10 => check_case::<T, 10>(tally, &fields, line),
        _ => panic!("no instance for {n} outputs"),
    }
}

#[test]
fn losses_and_deltas_match_the_high_precision_reference() {
    let mut tally = Tally::default();
    let mut lines = 0;
    for line in DATA.lines().filter(|l| !l.starts_with('#') && !l.trim().is_empty()) {
        lines += 1;
        match line.split_whitespace().nth(1) {
            Some("f32") => check_line::<f32>(&mut tally, line),
            Some("f64") => check_line::<f64>(&mut tally, line),
            other => panic!("unknown type {other:?}"),
        }
    }
    assert!(lines > 1000, "only {lines} reference cases");
    for (key, w) in &tally.worst {
        println!(
            "{key}: {} cases, {} values off; worst ulps: loss {}, one-hot delta {}, soft delta {} ({} beyond {ULPS} ulps)",
            w.cases, w.failed_values, w.loss, w.one_hot_delta, w.soft_delta, w.soft_delta_beyond_ulps
        );
    }
    let shown: Vec<&String> = tally.failures.iter().take(40).collect();
    assert!(
        tally.failures.is_empty(),
        "{} values off in {lines} cases:\n{}",
        tally.failures.len(),
        shown.iter().map(|s| s.as_str()).collect::<Vec<_>>().join("\n")
    );
}
