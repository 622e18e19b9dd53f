//! Optimizers: turn a gradient into a step, for any network.
//!
//! Each optimizer updates the flat parameter vector ([`Params::params_mut`]) of any network, and
//! keeps its state (momentum, Adam's moments) as values of the network's own type: a velocity or
//! a moment is a point in parameter space, so `adam.m.hidden.w[o][i]` is the first moment of
//! `net.hidden.w[o][i]`. Nothing is allocated; the state lives wherever the optimizer does.
//!
//! | optimizer | rule | defaults (PyTorch's) |
//! |---|---|---|
//! | [`Sgd`] | `p ← p - lr (g + λ p)` | `lr = 1e-3`, `λ = 0` |
//! | [`Momentum`] | `b ← μ b + (1 - τ) g'` (`b = g'` on the first step), `p ← p - lr b` (Nesterov: `p ← p - lr (g' + μ b)`), `g' = g + λ p` | `μ` given, `τ = 0`, `λ = 0`, no Nesterov |
//! | [`Adam`] | `m ← β₁ m + (1-β₁) g'`, `v ← β₂ v + (1-β₂) g'²`, `p ← p - lr m̂ / (√v̂ + ε)`, `g' = g + λ p` | `lr = 1e-3`, `β = (0.9, 0.999)`, `ε = 1e-8`, `λ = 0` |
//! | [`AdamW`] | `p ← p (1 - lr λ)`, then Adam's step with `g' = g` | as Adam, `λ = 1e-2` |
//!
//! `m̂ = m / (1 - β₁ᵗ)` and `v̂ = v / (1 - β₂ᵗ)` are the bias-corrected moments after `t` steps.
//! The scalar factors of a step (`lr / (1 - β₁ᵗ)`, `√(1 - β₂ᵗ)`, `1 - lr λ`) are computed in
//! `f64` and rounded once, as PyTorch does with Python floats.
//!
//! **Subnormal state is flushed to zero.** A momentum or a moment whose magnitude falls below the
//! smallest normal number ([`Scalar::MIN_POSITIVE`]) is stored as zero. A weight whose input is
//! always zero (a blank border pixel) gets a zero gradient, and its state decays geometrically into
//! that range within a few epochs; on x86 every operation that reads or produces a subnormal takes
//! a slow microcode path, and the `mnist` example's AdamW epochs ran at 0.63 s instead of 0.33 s
//! from the fourth epoch on (measured). What a flushed value would have done is negligible: a
//! first moment or a velocity below `MIN_POSITIVE` would move its parameter by at most about
//! `1.2e-30 · lr` (Adam: `lr · 1.2e-38 / ε`; momentum: `lr · 1.2e-38`), less than half an ulp of
//! any `f32` parameter larger than about `2e-23 · lr`; a second moment below it changes `√v̂ + ε`
//! by less than `1.1e-19` against `ε = 1e-8`. NaN and infinities pass through, so the checked
//! steps still see them.
//!
//! **In fixed point** ([`I16F16`](crate::I16F16)), every product of a step is rounded to
//! nearest (`2⁻¹⁷` at most) and every sum is exact; an update smaller than half an ulp, `lr · g
//! < 2⁻¹⁷`, is lost, so learning rates and gradients should not both be tiny (the `digits_fixed`
//! example trains with momentum, lr `0.05`, to the accuracy of `f32`). `MIN_POSITIVE` is one ulp,
//! so nothing is flushed. [`Sgd`] and [`Momentum`] work as they are. [`Adam`]'s default `ε =
//! 1e-8` rounds to `0`, which the settings check refuses ([`SettingError`] for `Eps`, before any
//! step); with `ε` of one ulp or more it trains (XOR, in the tests), but `v = g²` is `0` for
//! `|g| < 2⁻⁸·⁵`, where the step becomes `lr · m̂ / ε` instead of about `lr`: prefer momentum.
//!
//! **Settings are checked when they are made.** The constructors and builder methods return a
//! [`Result`]: a learning rate must be finite and `> 0`, a momentum, `β₁` and `β₂` in `[0, 1)`,
//! `ε` finite and `> 0`, a weight decay finite and `≥ 0`, a dampening in `[0, 1]` (with Nesterov
//! momentum, `μ` in `(0, 1)` and `τ = 0`, as PyTorch requires); the [`SettingError`] names the
//! setting and its range. The settings are also public fields, for reading and for schedules: a
//! value written there directly is not checked then, but [`Optimizer::check_settings`] is run
//! before every [`Trainer`](crate::Trainer) step, which refuses to step with it. For a constant
//! setting, [`Setting::valid`](crate::error::Setting::valid) checks it at compile time.
//!
//! ```
//! use backprop::{network, Adam, Momentum, Sgd, error::Setting};
//! network! {
//!     /// A line.
//!     #[loss(HalfSquaredError)]
//!     pub struct Line { input: 1, out: Dense<1, Identity> }
//! }
//! assert!(Sgd::<f32>::new(-0.5).is_err()); // gradient ascent
//! let err = Adam::<f64, Line<f64>>::new(1e-3).unwrap().betas(1.0, 0.999).unwrap_err();
//! assert_eq!(err.setting, Setting::Beta1);
//! assert_eq!(err.to_string(), "β₁ (beta1) = 1 is out of range: it must be in [0, 1)");
//! assert!(Momentum::<f64, Line<f64>>::nesterov(0.1, 0.9).unwrap().dampening(0.5).is_err());
//! ```
//!
//! Every optimizer has a checked step, [`Optimizer::try_step`], which computes the update first
//! and changes nothing (neither the parameters nor the state) if any value would be infinite or
//! NaN. The [`Trainer`](crate::Trainer) uses it.
//!
//! ```
//! use backprop::{network, Adam, Init, Network, Optimizer};
//! network! {
//!     /// XOR.
//!     #[loss(BinaryCrossEntropy)]
//!     pub struct Xor { input: 2, hidden: Dense<4, Tanh>, output: Dense<1, Sigmoid> }
//! }
//! let xs = [[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]];
//! let ts = [[0.0], [1.0], [1.0], [0.0]];
//! let mut net: Xor<f64> = Init::XavierUniform.network(1);
//! let mut adam = Adam::new(0.05).unwrap();
//! let mut grads = Xor::zeroed();
//! for _ in 0..300 {
//!     net.backward_batch(&xs, &ts, &mut grads);
//!     adam.step(&mut net, &grads);
//! }
//! assert!(net.backward_batch(&xs, &ts, &mut grads) < 0.05);
//! ```

mod adam;
mod momentum;
mod sgd;

pub use adam::{Adam, AdamW};
pub use momentum::Momentum;
pub use sgd::Sgd;

use crate::Scalar;
use crate::error::{Setting, SettingError};
use crate::network::Params;

/// An update rule over the parameters of a network of type `N`.
pub trait Optimizer<T: Scalar, N: Params<T>> {
    /// One step: updates `net` (and the optimizer's state) from the gradient `grads`, usually the
    /// mean gradient of a mini-batch.
    fn step(&mut self, net: &mut N, grads: &N);

    /// As [`step`](Optimizer::step), but computes every new value first: if a parameter or a
    /// state value would become infinite or NaN, changes nothing and returns the flat index of the
    /// first such parameter.
    fn try_step(&mut self, net: &mut N, grads: &N) -> Result<(), usize>;

    /// The learning rate.
    fn learning_rate(&self) -> T;

    /// Sets the learning rate (for a schedule); the state is kept. An error, and nothing changed,
    /// unless `lr` is finite and `> 0`.
    ///
    /// ```
    /// use backprop_core::{Dense, Optimizer, Sgd};
    /// let mut sgd = Sgd::new(0.1).unwrap();
    /// Optimizer::<f64, Dense<f64, 1, 1>>::set_learning_rate(&mut sgd, 0.05).unwrap();
    /// assert!(Optimizer::<f64, Dense<f64, 1, 1>>::set_learning_rate(&mut sgd, f64::NAN).is_err());
    /// assert_eq!(sgd.lr, 0.05);
    /// ```
    fn set_learning_rate(&mut self, lr: T) -> Result<(), SettingError>;

    /// Checks every setting against its range (see the [module](self) docs): the constructors
    /// check them, but the public fields can be written afterwards. The
    /// [`Trainer`](crate::Trainer) calls it before every step. The default accepts anything.
    fn check_settings(&self) -> Result<(), SettingError> {
        Ok(())
    }

    /// Forgets the state (momentum, moments, step count), as a freshly built optimizer.
    fn reset(&mut self);
}

/// `x`, or zero when `x` is subnormal (see "Subnormal state is flushed to zero" above). NaN and
/// infinities pass through.
#[inline(always)]
fn flush_subnormal<T: Scalar>(x: T) -> T {
    if x.abs() < T::MIN_POSITIVE { T::ZERO } else { x }
}

/// `g + λ p`: the gradient with L2 weight decay (exactly `g` when `λ = 0`).
#[inline(always)]
fn decayed<T: Scalar>(g: T, p: T, weight_decay: T) -> T {
    if weight_decay == T::ZERO { g } else { g + weight_decay * p }
}

/// `value` if `setting` accepts it (judged in `f64`, after the rounding to `T`).
#[inline]
fn check<T: Scalar>(setting: Setting, value: T) -> Result<T, SettingError> {
    setting.check(value.to_f64()).map(|_| value)
}
