//! Gradient checking: every analytic gradient against finite differences, for any [`Network`].
//!
//! # Why `f64`
//!
//! A finite difference subtracts two nearly equal losses. In `f32` (about 7 significant digits) a
//! loss near `1` is known to about `6e-8`; divided by a step of `1e-3` that is an error of `6e-5`
//! in every numeric gradient, and a smaller step makes it worse, a larger one lets the curvature
//! in. A correct backward pass then looks wrong to `1e-3`, and a wrong one can hide below that
//! noise. In `f64` the same error is about `1e-13`, so a relative error below `1e-6` is a real
//! statement about the code. Check in `f64`, then train in either type: the generated code is the
//! same for both.
//!
//! # Fixed point
//!
//! In [`I16F16`](crate::I16F16) the losses are known to `2⁻¹⁶` only, so a finite difference with
//! the default step of `1e-4` (six ulps) is noise: check the network in `f64` (the generated
//! code is generic and the same), and compare the fixed-point gradients with the `f64` ones
//! directly, as `tests/fixed.rs` does against a bound derived from the format's resolution.
//! `gradcheck` still runs on an `I16F16` network (no panic; perturbations are rounded to the
//! format), but its report is only meaningful with a step of `2⁻⁴` or so and a loose tolerance.
//!
//! # Method
//!
//! The numeric derivative is the fourth-order central difference
//! `(8 (L(p+h) - L(p-h)) - (L(p+2h) - L(p-2h))) / 12h`, whose truncation error is `O(h⁴)`, with
//! `h = step · max(1, |p|)`. The relative error of an analytic value `a` against a numeric `n` is
//! `|a - n| / max(|a|, |n|, floor)`, with `floor = max(GradCheck::floor, GradCheck::relative_floor · g_max)`
//! and `g_max` the largest analytic gradient component. The floor keeps gradients that are zero
//! (inactive relu units) or tiny from dividing rounding noise by nothing: in `f64` a numeric
//! derivative carries an absolute error near `1e-12 · |L|` whatever its size, so a component of
//! `1e-6` cannot be resolved to a relative `1e-6`. Such components are still checked, against
//! `relative_floor` of the largest one: a bug that scales a tiny gradient by any factor still
//! shows up as an error many orders of magnitude above the tolerance.
//!
//! [`GradCheckMode::Full`] perturbs every parameter and every input, one at a time (`4·PARAMS`
//! loss evaluations). [`GradCheckMode::Directions`] compares the directional derivative `g · v`
//! along random ±1 directions `v` of the whole parameter vector, four loss evaluations each,
//! for networks too big to check one weight at a time.
//!
//! The network is never modified: perturbations go to a scratch copy, which is restored exactly.

use crate::Scalar;
use crate::layer::{ParamIndex, locate_param};
use crate::network::Network;
use crate::rng::Rng;

/// Which derivatives to check.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GradCheckMode {
    /// Every parameter and every input, one at a time.
    Full,
    /// Every input, and the parameters along `count` random ±1 directions drawn from `seed`.
    Directions {
        /// How many directions.
        count: usize,
        /// The seed of the directions.
        seed: u64,
    },
}

/// Options of [`gradcheck`].
///
/// ```
/// use backprop_core::GradCheck;
/// use backprop_core::gradcheck::GradCheckMode;
/// let options = GradCheck { mode: GradCheckMode::Directions { count: 8, seed: 1 }, ..GradCheck::default() };
/// assert_eq!(options.step, 1e-4);
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct GradCheck {
    /// The finite-difference step, relative to `max(1, |p|)`. Default `1e-4`: small enough not to
    /// cross a relu kink for `|z| > 1e-3` with inputs up to 2, large enough to keep `f64`
    /// rounding near `1e-12`.
    pub step: f64,
    /// The smallest denominator of a relative error, absolute. Default `1e-8`.
    pub floor: f64,
    /// The smallest denominator of a relative error, as a fraction of the largest analytic
    /// gradient component. Default `1e-4`.
    pub relative_floor: f64,
    /// What to check. Default [`GradCheckMode::Full`].
    pub mode: GradCheckMode,
}

impl Default for GradCheck {
    fn default() -> Self {
        Self { step: 1e-4, floor: 1e-8, relative_floor: 1e-4, mode: GradCheckMode::Full }
    }
}

/// Which derivative a comparison was about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GradLocation {
    /// A parameter.
    Param(ParamIndex),
    /// Element `index` of the input gradient `dL/dx`.
    Input(usize),
    /// The directional derivative along random direction number `index`.
    Direction(usize),
}

impl core::fmt::Display for GradLocation {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::Param(p) => write!(f, "{p}"),
            Self::Input(i) => write!(f, "input[{i}]"),
            Self::Direction(i) => write!(f, "random direction {i}"),
        }
    }
}

/// One comparison of an analytic derivative with its numeric estimate.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct GradComparison {
    /// Which derivative.
    pub location: GradLocation,
    /// From the backward pass.
    pub analytic: f64,
    /// From finite differences.
    pub numeric: f64,
    /// `|analytic - numeric| / max(|analytic|, |numeric|, floor)` (see the [module docs](self)).
    pub relative_error: f64,
}

/// The result of [`gradcheck`]: the worst comparison, and how many were made.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct GradReport {
    /// The comparison with the largest relative error (`None` if nothing was compared).
    pub worst: Option<GradComparison>,
    /// The largest absolute error `|analytic - numeric|` of all comparisons.
    pub max_abs_error: f64,
    /// How many derivatives were compared.
    pub checked: usize,
    /// The loss at the unperturbed parameters.
    pub loss: f64,
    /// The denominator floor that was used for relative errors.
    pub floor: f64,
}

impl GradReport {
    /// The largest relative error, `0` if nothing was compared; NaN counts as infinite.
    pub fn worst_relative_error(&self) -> f64 {
        self.worst.map_or(0.0, |w| w.relative_error)
    }

    /// `true` when every comparison is within `tolerance`.
    pub fn passes(&self, tolerance: f64) -> bool {
        self.worst_relative_error() <= tolerance
    }

    fn record(&mut self, location: GradLocation, analytic: f64, numeric: f64, floor: f64) {
        let abs_error = libm::fabs(analytic - numeric);
        let scale = libm::fabs(analytic).max(libm::fabs(numeric)).max(floor);
        let mut relative_error = abs_error / scale;
        if relative_error.is_nan() {
            relative_error = f64::INFINITY;
        }
        self.checked += 1;
        self.max_abs_error = self.max_abs_error.max(abs_error);
        if self.worst.is_none_or(|w| relative_error > w.relative_error) {
            self.worst = Some(GradComparison { location, analytic, numeric, relative_error });
        }
    }
}

impl core::fmt::Display for GradReport {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match &self.worst {
            None => write!(f, "no derivative checked"),
            Some(w) => write!(
                f,
                "{} derivatives checked; worst relative error {:.3e} at {} (analytic {:.12e}, numeric {:.12e})",
                self.checked, w.relative_error, w.location, w.analytic, w.numeric
            ),
        }
    }
}

/// Checks every gradient of `net` at sample `(x, target)` against finite differences.
///
/// Builds the gradient and a scratch copy on the stack: for a network of more than a few
/// hundred kilobytes use [`gradcheck_with`] and buffers of your own.
///
/// ```
/// use backprop::{gradcheck, GradCheck, network};
/// network! {
///     #[loss(HalfSquaredError)]
///     struct Toy { input: 2, hidden: Dense<2, Sigmoid>, output: Dense<1, Sigmoid> }
/// }
/// let net = Toy::<f64>::new(
///     backprop::Dense::new([[0.5, -0.3], [0.8, 0.2]], [0.0, 0.0]),
///     backprop::Dense::new([[1.0, -1.0]], [0.1]),
/// );
/// let report = gradcheck(&net, &[1.0, 0.5], &[1.0], &GradCheck::default());
/// assert!(report.passes(1e-6), "{report}");
/// ```
pub fn gradcheck<T: Scalar, N: Network<T>>(
    net: &N,
    x: &N::Input,
    target: &N::Output,
    options: &GradCheck,
) -> GradReport {
    let mut grads = N::zeroed();
    let mut scratch = net.clone();
    gradcheck_with(net, x, target, options, &mut grads, &mut scratch)
}

/// [`gradcheck`] with caller-provided buffers for the gradient and the perturbed copy (their
/// contents on entry do not matter), so nothing large lives on the stack.
pub fn gradcheck_with<T: Scalar, N: Network<T>>(
    net: &N,
    x: &N::Input,
    target: &N::Output,
    options: &GradCheck,
    grads: &mut N,
    scratch: &mut N,
) -> GradReport {
    let mut trace = N::new_trace();
    net.forward_trace(x, &mut trace);
    let loss = net.backward(&mut trace, target, grads).to_f64();
    let mut report = GradReport { worst: None, max_abs_error: 0.0, checked: 0, loss, floor: 0.0 };

    // The input gradient, one element at a time.
    let input_grad = *N::input_grad(&trace);
    let g_max =
        grads.params().iter().chain(input_grad.as_ref()).fold(0.0f64, |m, g| m.max(libm::fabs(g.to_f64())));
    let floor = options.floor.max(options.relative_floor * g_max);
    report.floor = floor;
    for (i, (&xi, &gi)) in x.as_ref().iter().zip(input_grad.as_ref()).enumerate() {
        let x0 = xi.to_f64();
        let h = options.step * libm::fabs(x0).max(1.0);
        let numeric = stencil(h, |s| {
            let mut xp = *x;
            set(xp.as_mut(), i, T::from_f64(x0 + s * h));
            net.loss(&xp, target).to_f64()
        });
        report.record(GradLocation::Input(i), gi.to_f64(), numeric, floor);
    }

    scratch.params_mut().copy_from_slice(net.params());
    match options.mode {
        GradCheckMode::Full => {
            for (k, (&p, &g)) in net.params().iter().zip(grads.params()).enumerate() {
                let p0 = p.to_f64();
                let h = options.step * libm::fabs(p0).max(1.0);
                let numeric = stencil(h, |s| {
                    set(scratch.params_mut(), k, T::from_f64(p0 + s * h));
                    scratch.loss(x, target).to_f64()
                });
                set(scratch.params_mut(), k, p);
                let location =
                    locate_param(N::LAYERS, k).map_or(GradLocation::Direction(k), GradLocation::Param);
                report.record(location, g.to_f64(), numeric, floor);
            }
        }
        GradCheckMode::Directions { count, seed } => {
            let mut rng = Rng::new(seed);
            for d in 0..count {
                // The direction is drawn again from the same state for each evaluation, so it
                // needs no storage.
                let state = rng.clone();
                let mut analytic = 0.0;
                let mut dir = state.clone();
                for &g in grads.params() {
                    analytic += g.to_f64() * dir.sign();
                }
                let h = options.step;
                let numeric = stencil(h, |s| {
                    let mut dir = state.clone();
                    for (p, &p0) in scratch.params_mut().iter_mut().zip(net.params()) {
                        *p = T::from_f64(p0.to_f64() + s * h * dir.sign());
                    }
                    scratch.loss(x, target).to_f64()
                });
                rng = dir;
                report.record(GradLocation::Direction(d), analytic, numeric, floor);
            }
            scratch.params_mut().copy_from_slice(net.params());
        }
    }
    report
}

/// Writes `value` at `slice[k]`. `k` always comes from enumerating a slice of the same length,
/// but inside the stencil's closure the optimiser no longer sees that, and a plain index would
/// leave a bounds-check panic behind (the no-panic link test catches it); `get_mut` has none.
fn set<T>(slice: &mut [T], k: usize, value: T) {
    if let Some(slot) = slice.get_mut(k) {
        *slot = value;
    }
}

/// `(8 (f(h) - f(-h)) - (f(2h) - f(-2h))) / 12h`, where `f(s)` is the loss at offset `s` (in
/// units of `h`, passed as `s ∈ {±1, ±2}`).
fn stencil(h: f64, mut loss_at: impl FnMut(f64) -> f64) -> f64 {
    let (p1, m1) = (loss_at(1.0), loss_at(-1.0));
    let (p2, m2) = (loss_at(2.0), loss_at(-2.0));
    (8.0 * (p1 - m1) - (p2 - m2)) / (12.0 * h)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stencil_is_exact_for_quartics() {
        // The fourth-order stencil differentiates polynomials up to degree 4 exactly.
        let f = |x: f64| 3.0 * x * x * x * x - 2.0 * x * x * x + x - 5.0;
        let x0 = 0.7;
        let numeric = stencil(1e-2, |s| f(x0 + s * 1e-2));
        let exact = 12.0 * x0 * x0 * x0 - 6.0 * x0 * x0 + 1.0;
        assert!((numeric - exact).abs() < 1e-10, "{numeric} vs {exact}");
    }

    #[test]
    fn relative_error_uses_the_floor() {
        let mut r = GradReport { worst: None, max_abs_error: 0.0, checked: 0, loss: 0.0, floor: 1e-6 };
        r.record(GradLocation::Input(0), 0.0, 1e-12, 1e-6);
        assert_eq!(r.worst_relative_error(), 1e-6);
        r.record(GradLocation::Input(1), 2.0, 1.0, 1e-6);
        assert_eq!(r.worst_relative_error(), 0.5);
        r.record(GradLocation::Input(2), f64::NAN, 1.0, 1e-6);
        assert_eq!(r.worst_relative_error(), f64::INFINITY);
        assert_eq!(r.worst.unwrap().location, GradLocation::Input(2));
        assert_eq!(r.checked, 3);
    }
}
