//! Per-sample losses and the output error signal `delta = dL/dz` of the last layer.
//!
//! A loss is paired with the activation of the output layer through [`Loss<A>`]: half squared
//! error works after any activation; binary cross-entropy needs a [`Sigmoid`] output and softmax
//! cross-entropy a [`Softmax`] output. For those two pairs the loss and the error signal `y - t`
//! are both computed from the logits `z` (never from `ln(y)`, nor from the rounded `y`), in forms
//! where nothing cancels, so that they are exact to a few ulps also where they are tiny: see each
//! loss's accuracy section, and the 500-digit reference in `tests/loss_reference.rs`.

//!
//! # In fixed point
//!
//! In [`I16F16`](crate::I16F16) the same code runs, and the accuracy statements become absolute:
//! every value is within a few `2⁻¹⁷` roundings of the exact one (sums are exact, products and
//! function values are rounded once each). The floating-point devices degrade to no-ops rather
//! than to errors: the two-sum in `exp_of_difference` finds a zero correction (the difference
//! `z - m` is exact unless it saturates, and then `e^(z - m)` is `0` and so is the correction);
//! `-INFINITY` as the start of the maximum is `-MAX`, which every logit but a saturated `MIN`
//! exceeds; the halved gaps round by at most half an ulp each; and `ln_1p` is `ln` of the exact
//! sum `1 + x`, good to half an ulp absolute. A loss below `2⁻¹⁷` is `0`, and a sigmoid
//! probability below that is `0` or one ulp: binary cross-entropy stays finite (it is computed
//! from the logits, never `ln(0)`).

use crate::Scalar;
use crate::activation::{Activation, Sigmoid, Softmax};

/// A loss `L(y, t)` on the output `y = A(z)` of a layer with activation `A`.
///
/// ```
/// use backprop_core::{HalfSquaredError, Identity, Loss};
/// let z = [0.5f64, 2.0];
/// let t = [1.0, 1.0];
/// let mut delta = [0.0; 2];
/// let loss = <HalfSquaredError as Loss<Identity>>::loss_and_delta(&z, &z, &t, &mut delta);
/// assert_eq!(loss, 0.5 * (0.25 + 1.0));
/// assert_eq!(delta, [-0.5, 1.0]);
/// ```
pub trait Loss<A: Activation>: Copy + Default + core::fmt::Debug + 'static {
    /// The name used in the `network!` spec.
    const NAME: &'static str;
    /// The formula, for documentation and reports.
    const FORMULA: &'static str;

    /// The loss of one sample, from the output layer's `z`, its activation `a = A(z)` and the target.
    fn loss<T: Scalar, const N: usize>(z: &[T; N], a: &[T; N], target: &[T; N]) -> T;

    /// The loss of one sample, and the output error signal `delta = dL/dz` written to `delta`.
    fn loss_and_delta<T: Scalar, const N: usize>(
        z: &[T; N],
        a: &[T; N],
        target: &[T; N],
        delta: &mut [T; N],
    ) -> T;
}

/// `L = ½ Σ (y_i - t_i)²`; output error signal `delta = (y - t) ⊙ f'(z)` (through the activation's
/// Jacobian for softmax), as in the chapter.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct HalfSquaredError;

impl<A: Activation> Loss<A> for HalfSquaredError {
    const NAME: &'static str = "HalfSquaredError";
    const FORMULA: &'static str = "0.5 * sum((y - t)^2)";

    #[inline]
    fn loss<T: Scalar, const N: usize>(_: &[T; N], a: &[T; N], target: &[T; N]) -> T {
        let mut sum = T::ZERO;
        for i in 0..N {
            sum += (a[i] - target[i]) * (a[i] - target[i]);
        }
        sum * T::HALF
    }

    #[inline]
    fn loss_and_delta<T: Scalar, const N: usize>(
        z: &[T; N],
        a: &[T; N],
        target: &[T; N],
        delta: &mut [T; N],
    ) -> T {
        let mut sum = T::ZERO;
        for i in 0..N {
            delta[i] = a[i] - target[i];
            sum += delta[i] * delta[i];
        }
        A::backward(z, a, delta);
        sum * T::HALF
    }
}

/// `L = -Σ [t_i ln y_i + (1 - t_i) ln(1 - y_i)]` on a sigmoid output, computed from the logits;
/// output error signal `delta = y - t`, also from the logits.
///
/// # Accuracy
///
/// With `e = e^-|z|` (the one exponential per output, never overflowing) and `h = 1` for
/// `z ≥ 0`, `0` otherwise, each output's loss is `ln(1 + e) + (h - t) z` and its delta
/// `(h - t) ∓ e / (1 + e)` (minus for `z ≥ 0`). For `t` in `[0, 1]` both terms of the loss are
/// non-negative, so nothing cancels: the loss is within a few ulps of the exact value for any
/// logit and any target, also where it is tiny (`t = 1`, `z = 17` in `f32` gives `4.1e-8`, where
/// `softplus(z) - z` gave `0`). The delta of a target `0` or `1` is the small one of `σ(±z)`,
/// computed directly (never `1 - σ`), so it too is within a few ulps; for a soft target it is
/// within a few ulps or `2ε · min(σ(z), 1 - σ(z))` absolute, since `σ(z) - t` cancels near `t`.
/// Checked against a 500-digit reference in `tests/loss_reference.rs`: at most 1 ulp off there
/// for every loss and every delta of a target `0` or `1`. The argument `a` (the sigmoid output) is
/// not used.
///
/// ```
/// use backprop_core::{BinaryCrossEntropy, Loss, Sigmoid};
/// let z = [17.0f32];
/// let mut delta = [0.0];
/// let loss = <BinaryCrossEntropy as Loss<Sigmoid>>::loss_and_delta(&z, &[1.0], &[1.0], &mut delta);
/// assert!((loss - 4.1399377e-8).abs() < 1e-14); // e^-17 / (1 + e^-17) and ln(1 + e^-17)
/// assert!((delta[0] + 4.1399375e-8).abs() < 1e-14);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct BinaryCrossEntropy;

/// One output of [`BinaryCrossEntropy`]: `(loss, delta)` from the logit `z` and target `t`.
#[inline(always)]
fn bce_term<T: Scalar>(z: T, t: T) -> (T, T) {
    let e = (-z.abs()).exp(); // in [0, 1]: e^-|z| never overflows
    let positive = z >= T::ZERO;
    // h - t: exact for h = 0, and for h = 1 whenever t ≥ 1/2 (Sterbenz), so exactly 0 for t = 1.
    let w = if positive { T::ONE } else { T::ZERO } - t;
    // softplus(z) - t z = ln(1 + e^-|z|) + (h - t) z: both terms ≥ 0 for t in [0, 1].
    let loss = e.ln_1p() + w * z;
    // σ(-|z|) = e / (1 + e), the smaller of σ(z) and 1 - σ(z), accurate to an ulp or two.
    let small = e / (T::ONE + e);
    // σ(z) - t = (1 - t) - σ(-z) for z ≥ 0, σ(z) - t for z < 0.
    let delta = w + if positive { -small } else { small };
    (loss, delta)
}

impl Loss<Sigmoid> for BinaryCrossEntropy {
    const NAME: &'static str = "BinaryCrossEntropy";
    const FORMULA: &'static str = "-sum(t ln y + (1 - t) ln(1 - y))";

    #[inline]
    fn loss<T: Scalar, const N: usize>(z: &[T; N], _: &[T; N], target: &[T; N]) -> T {
        let mut sum = T::ZERO;
        for i in 0..N {
            sum += bce_term(z[i], target[i]).0;
        }
        sum
    }

    #[inline]
    fn loss_and_delta<T: Scalar, const N: usize>(
        z: &[T; N],
        _: &[T; N],
        target: &[T; N],
        delta: &mut [T; N],
    ) -> T {
        let mut sum = T::ZERO;
        for i in 0..N {
            let (loss, d) = bce_term(z[i], target[i]);
            sum += loss;
            delta[i] = d;
        }
        sum
    }
}

/// `L = -Σ t_i ln softmax(z)_i` on a softmax output, computed from the logits; output error
/// signal `delta = y · Σt - t`, which is `y - t` for a target distribution, also from the logits.
///
/// # Accuracy
///
/// With `m = z_k` the largest logit (the first, on a tie), `e_j = e^(z_j - m)` (the difference
/// taken exactly, so a logit far below `m` does not lose digits in its exponent) and
/// `R = Σ_{j≠k} e_j`, the loss is `Σ t_j (m - z_j) + Σt · ln(1 + R)`: non-negative terms for a
/// non-negative target, nothing cancels, so the loss is within a few ulps of the exact value
/// (about `(N + 3)` roundings in the worst case), also when the right class dominates and the loss
/// is `1e-7` next to logits of `100`, where `m + ln Σ - z_k` lost all but a few digits. The
/// probabilities are `e_j / (1 + R)`; the delta of the largest class is `-R / (1 + R)` for a
/// one-hot target on it, computed so (never `p - 1`), and every delta of a one-hot target is
/// within a few ulps. For a soft target, `p_j Σt - t_j` cancels when `p_j Σt ≈ t_j`: then the
/// delta is within `N ε · Σt · min(p_j, 1 - p_j)` absolute (the rounding of `p_j`, which no
/// formula in the working precision avoids). Checked against a 500-digit reference in
/// `tests/loss_reference.rs`: at most 2 ulps off for every loss and one-hot delta there, with up
/// to 10 classes. The argument `a` (the softmax output) is not used.
///
/// In `f32` with `std`, `R` is summed in `f64` (one rounding). Costs one exponential per class and one
/// `ln_1p` per sample, as `logsumexp` did.
///
/// ```
/// use backprop_core::{Loss, Softmax, SoftmaxCrossEntropy};
/// let z = [100.0f64, 84.0];
/// let mut delta = [0.0; 2];
/// let loss = <SoftmaxCrossEntropy as Loss<Softmax>>::loss_and_delta(&z, &[0.0; 2], &[1.0, 0.0], &mut delta);
/// let r = (-16.0f64).exp(); // the other class's share, relative to the first's
/// assert!((loss - r.ln_1p()).abs() <= 1e-22);
/// assert!((delta[0] + r / (1.0 + r)).abs() <= 1e-22);
/// assert!((delta[1] - r / (1.0 + r)).abs() <= 1e-22);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct SoftmaxCrossEntropy;

/// What [`SoftmaxCrossEntropy`] needs of one sample, from [`softmax_parts`].
struct SoftmaxParts<T> {
    /// The largest logit `m` (NaNs skipped).
    m: T,
    /// `R = Σ_{j≠k} e^(z_j - m)`, `k` the first largest: the logits below `m`, and `1` for each
    /// further one equal to it.
    rest: T,
    /// `Σ_j t_j (m/2 - z_j/2)`, non-negative for a non-negative target; halved so that no gap
    /// overflows (in `f32`, `3e38 - (-3e38)` would), halving being exact above the subnormals.
    half_gaps: T,
    /// `Σ_j t_j`.
    total: T,
    /// `Σ_{z_j≠m} t_j`, summed so (not as `Σt - t_k`, which can cancel): used only when `R < 1`,
    /// when `m` is unique and this is `Σ_{j≠k} t_j`.
    total_rest: T,
}

/// `e_j = e^(z_j - m)` into `e` for every class (`1` for the largest), and the sums of
/// [`SoftmaxParts`], in passes without a branch: all but the exponentials vectorise.
///
/// The difference `z_j - m` is taken exactly: its rounding error `r` (Knuth's two-sum, exact
/// without fused operations) enters as `e^(d + r) ≈ e^d (1 + r)`, since `|r| ≤ ε |d|` is far below
/// an ulp of `1`. Without it, a logit `200` below the largest would carry a relative error of
/// `200 · ε/2` in `f64`, 50 ulps. For `z_j = m` both `d` and `r` are `0` and `e_j` is exactly `1`;
/// for a difference that overflows to `-∞`, `e_j` is `0` (not NaN).
#[inline(always)]
fn softmax_parts<T: Scalar, const N: usize>(z: &[T; N], target: &[T; N], e: &mut [T; N]) -> SoftmaxParts<T> {
    let m = largest(z);
    let half_m = m * T::HALF;
    let mut r = [T::ZERO; N];
    let (mut half_gaps, mut total, mut total_rest, mut ties) = (T::ZERO, T::ZERO, T::ZERO, T::ZERO);
    for j in 0..N {
        let (v, t) = (z[j], target[j]);
        let d = v - m;
        let z_part = d + m;
        let m_part = d - z_part;
        r[j] = (v - z_part) + (-m - m_part);
        e[j] = d;
        half_gaps += t * (half_m - v * T::HALF);
        total += t;
        let top = v == m;
        total_rest += if top { T::ZERO } else { t };
        ties += if top { T::ONE } else { T::ZERO };
    }
    for e in e.iter_mut() {
        *e = e.exp();
    }
    // R: in f32, as LANES interleaved partial sums in f64 added pairwise at the end, within
    // N·2⁻⁵³ relative before its one rounding (closer than a running sum in f32, N - 1 roundings),
    // and no chain of N dependent additions. In f64 (no wider type), and without `std` (bare
    // metal, where f64 is often emulated), the running sum in order, skipping the first largest
    // logit (every further one adds its e = 1): the same sum, to the bit, as before the lanes.
    let narrow = cfg!(feature = "std") && T::EPSILON.to_f64() > f64::EPSILON;
    let mut lanes = [0.0f64; LANES];
    let (mut rest, mut seen) = (T::ZERO, false);
    for j in 0..N {
        let c = e[j] * r[j];
        // |c| ≪ e; where the difference overflowed, e = 0 and r is NaN: then c is replaced by -e = -0.
        e[j] += if c >= -e[j] { c } else { -e[j] };
        let top = z[j] == m;
        if narrow {
            lanes[j % LANES] += if top { 0.0 } else { e[j].to_f64() };
        } else {
            rest += if top && !seen { T::ZERO } else { e[j] };
            seen |= top;
        }
    }
    if narrow {
        // Every largest logit but the first contributes e = 1: `ties - 1` in all, exact.
        let ties = if ties > T::ONE { (ties - T::ONE).to_f64() } else { 0.0 };
        rest = T::from_f64(ties + ((lanes[0] + lanes[2]) + (lanes[1] + lanes[3])));
    }
    SoftmaxParts { m, rest, half_gaps, total, total_rest }
}

/// How many partial sums (and running maxima) [`softmax_parts`] keeps: a vector of `f32` in SSE,
/// of `f64` in AVX.
const LANES: usize = 4;

/// The largest logit, NaNs skipped (`-∞` if there is none), from [`LANES`] running maxima: a
/// select (`maxps`) rather than `max`, whose NaN rule costs two more instructions a step.
#[inline(always)]
fn largest<T: Scalar, const N: usize>(z: &[T; N]) -> T {
    let bigger = |a: T, b: T| if b > a { b } else { a };
    let mut lanes = [-T::INFINITY; LANES];
    for (&v, j) in z.iter().zip(0..N) {
        lanes[j % LANES] = bigger(lanes[j % LANES], v);
    }
    bigger(bigger(lanes[0], lanes[2]), bigger(lanes[1], lanes[3]))
}

impl<T: Scalar> SoftmaxParts<T> {
    /// `Σ t_j (m - z_j) + Σt · ln(1 + R)`: two non-negative terms.
    #[inline(always)]
    fn loss(&self) -> T {
        (self.half_gaps + self.half_gaps) + self.total * self.rest.ln_1p()
    }
}

impl Loss<Softmax> for SoftmaxCrossEntropy {
    const NAME: &'static str = "SoftmaxCrossEntropy";
    const FORMULA: &'static str = "-sum(t * log_softmax(z))";

    #[inline]
    fn loss<T: Scalar, const N: usize>(z: &[T; N], _: &[T; N], target: &[T; N]) -> T {
        softmax_parts(z, target, &mut [T::ZERO; N]).loss()
    }

    #[inline]
    fn loss_and_delta<T: Scalar, const N: usize>(
        z: &[T; N],
        _: &[T; N],
        target: &[T; N],
        delta: &mut [T; N],
    ) -> T {
        let parts = softmax_parts(z, target, delta);
        let inv = T::ONE / (T::ONE + parts.rest);
        // The largest class: p = 1 / (1 + R). When R < 1 (p > 1/2, so the largest logit is
        // unique) its delta p Σt - t is Σ_{j≠k} t_j - Σt · R / (1 + R), which for a one-hot target
        // on it is -R / (1 + R) with no cancellation; otherwise p ≤ 1/2 and p Σt - t, the formula
        // of every other class (with e = 1), is as good.
        let unique = parts.rest < T::ONE;
        let top_delta = parts.total_rest - parts.total * (parts.rest * inv);
        for i in 0..N {
            // Every other class has p = e_j / (1 + R) ≤ 1/2: p Σt - t is accurate as it stands.
            let other = delta[i] * inv * parts.total - target[i];
            delta[i] = if unique && z[i] == parts.m { top_delta } else { other };
        }
        parts.loss()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::activation::{Elementwise, Tanh};

    fn numeric_delta<A: Activation, L: Loss<A>, const N: usize>(z: [f64; N], t: [f64; N]) -> [f64; N] {
        let mut out = [0.0; N];
        for j in 0..N {
            let h = 1e-6;
            let eval = |zz: [f64; N]| {
                let mut a = [0.0; N];
                A::forward(&zz, &mut a);
                L::loss(&zz, &a, &t)
            };
            let (mut zp, mut zm) = (z, z);
            zp[j] += h;
            zm[j] -= h;
            out[j] = (eval(zp) - eval(zm)) / (2.0 * h);
        }
        out
    }

    fn check<A: Activation, L: Loss<A>, const N: usize>(z: [f64; N], t: [f64; N]) {
        let mut a = [0.0; N];
        A::forward(&z, &mut a);
        let mut delta = [0.0; N];
        let loss = L::loss_and_delta(&z, &a, &t, &mut delta);
        assert_eq!(loss, L::loss(&z, &a, &t));
        let numeric = numeric_delta::<A, L, N>(z, t);
        for j in 0..N {
            assert!(
                (delta[j] - numeric[j]).abs() < 1e-8,
                "{} on {}: {delta:?} vs {numeric:?}",
                L::NAME,
                A::NAME
            );
        }
    }

    #[test]
    fn deltas_match_finite_differences() {
        check::<Tanh, HalfSquaredError, 3>([0.2, -1.0, 0.7], [1.0, 0.0, -0.5]);
        check::<Softmax, HalfSquaredError, 3>([0.2, -1.0, 0.7], [1.0, 0.0, 0.0]);
        check::<Sigmoid, BinaryCrossEntropy, 3>([0.2, -1.0, 7.0], [1.0, 0.0, 0.3]);
        check::<Softmax, SoftmaxCrossEntropy, 4>([0.2, -1.0, 7.0, 0.0], [0.0, 0.0, 1.0, 0.0]);
        check::<Softmax, SoftmaxCrossEntropy, 3>([0.2, -1.0, 3.0], [0.2, 0.3, 0.5]);
    }

    #[test]
    fn bce_matches_the_definition() {
        let z = [0.3f64, -2.0];
        let t = [1.0, 0.25];
        let y = [Sigmoid::f(z[0]), Sigmoid::f(z[1])];
        let direct: f64 = (0..2).map(|i| -(t[i] * y[i].ln() + (1.0 - t[i]) * (1.0 - y[i]).ln())).sum();
        let loss = <BinaryCrossEntropy as Loss<Sigmoid>>::loss(&z, &y, &t);
        assert!((loss - direct).abs() < 1e-14);
    }

    #[test]
    fn softmax_cross_entropy_is_stable_at_huge_equal_logits() {
        // ln 2 for two equal logits of 1000 (formerly the check of log_sum_exp).
        let z = [1000.0f64, 1000.0];
        let loss = <SoftmaxCrossEntropy as Loss<Softmax>>::loss(&z, &z, &[1.0, 0.0]);
        assert!((loss - core::f64::consts::LN_2).abs() < 1e-15, "{loss}");
    }

    #[test]
    fn cross_entropies_are_finite_for_huge_logits_in_f32() {
        let z = [100.0f32, -100.0, 50.0];
        let t = [0.0, 1.0, 0.0];
        let mut a = [0.0; 3];
        Softmax::forward(&z, &mut a);
        let mut delta = [0.0; 3];
        let loss = <SoftmaxCrossEntropy as Loss<Softmax>>::loss_and_delta(&z, &a, &t, &mut delta);
        assert!((loss - 200.0).abs() < 1e-3, "{loss}");
        assert!(delta.iter().all(|d| d.is_finite()));

        let z = [100.0f32];
        let mut a = [0.0; 1];
        Sigmoid::forward(&z, &mut a);
        let loss = <BinaryCrossEntropy as Loss<Sigmoid>>::loss_and_delta(
            &z,
            &a,
            &[0.0],
            &mut delta[..1].try_into().unwrap(),
        );
        assert_eq!(loss, 100.0);
    }
}
