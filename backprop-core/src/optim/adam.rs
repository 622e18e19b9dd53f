//! Adam and AdamW, with bias correction.

use super::{Optimizer, check, decayed, flush_subnormal};
use crate::Scalar;
use crate::error::{Setting, SettingError};
use crate::network::{Network, Params};

/// The scalars of one Adam step, computed once per step in `f64` as PyTorch does with Python
/// floats, then rounded to `T`.
#[derive(Clone, Copy)]
struct Rule<T> {
    beta1: T,
    one_minus_beta1: T,
    beta2: T,
    one_minus_beta2: T,
    eps: T,
    /// `lr / (1 - β₁ᵗ)`.
    step_size: T,
    /// `√(1 - β₂ᵗ)`.
    bias_correction2_sqrt: T,
    /// L2 weight decay added to the gradient (Adam); zero for AdamW.
    l2: T,
    /// `1 - lr λ`, the decoupled decay factor (AdamW); one for Adam.
    shrink: T,
}

impl<T: Scalar> Rule<T> {
    fn new(lr: T, beta1: T, beta2: T, eps: T, t: u64, l2: T, decoupled: T) -> Self {
        let (lr64, b1, b2) = (lr.to_f64(), beta1.to_f64(), beta2.to_f64());
        let t = t as f64;
        Self {
            beta1,
            one_minus_beta1: T::from_f64(1.0 - b1),
            beta2,
            one_minus_beta2: T::from_f64(1.0 - b2),
            eps,
            step_size: T::from_f64(lr64 / (1.0 - libm::pow(b1, t))),
            bias_correction2_sqrt: T::from_f64(libm::sqrt(1.0 - libm::pow(b2, t))),
            l2,
            shrink: T::from_f64(1.0 - lr64 * decoupled.to_f64()),
        }
    }

    /// The new parameter and moments.
    #[inline(always)]
    fn apply(self, p: T, g: T, m: T, v: T) -> (T, T, T) {
        let p = if self.shrink == T::ONE { p } else { p * self.shrink };
        let g = decayed(g, p, self.l2);
        let m = flush_subnormal(self.beta1 * m + self.one_minus_beta1 * g);
        let v = flush_subnormal(self.beta2 * v + self.one_minus_beta2 * g * g);
        let denom = v.sqrt() / self.bias_correction2_sqrt + self.eps;
        (p - self.step_size * (m / denom), m, v)
    }
}

/// One step over flat slices; with `WRITE = false`, only finds the first parameter whose new
/// values would not be finite.
#[inline(always)]
fn run<T: Scalar, const WRITE: bool>(
    rule: Rule<T>,
    params: &mut [T],
    grads: &[T],
    m: &mut [T],
    v: &mut [T],
) -> Result<(), usize> {
    for (i, (((p, &g), m), v)) in params.iter_mut().zip(grads).zip(m).zip(v).enumerate() {
        let (p1, m1, v1) = rule.apply(*p, g, *m, *v);
        if WRITE {
            (*p, *m, *v) = (p1, m1, v1);
        } else if !(p1.is_finite() && m1.is_finite() && v1.is_finite()) {
            return Err(i);
        }
    }
    Ok(())
}

macro_rules! adam_type {
    ($(#[$doc:meta])* $name:ident, default_weight_decay = $wd:expr, decoupled = $decoupled:literal) => {
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq)]
        pub struct $name<T, N> {
            /// The learning rate `lr`, finite and `> 0`. Default `1e-3`. (Written directly, it is
            /// checked by [`Optimizer::check_settings`], before every [`Trainer`](crate::Trainer)
            /// step; so are the others.)
            pub lr: T,
            /// The decay of the first moment, `β₁`, in `[0, 1)`. Default `0.9`.
            pub beta1: T,
            /// The decay of the second moment, `β₂`, in `[0, 1)`. Default `0.999`.
            pub beta2: T,
            /// Added to `√v̂` in the denominator, `ε`, finite and `> 0`. Default `1e-8`.
            pub eps: T,
            /// The weight decay `λ`, finite and `≥ 0`.
            pub weight_decay: T,
            /// The first moment `m` (a running mean of gradients), one value per parameter.
            pub m: N,
            /// The second moment `v` (a running mean of squared gradients), one value per parameter.
            pub v: N,
            /// Steps taken, `t`.
            pub t: u64,
        }

        impl<T: Scalar, N: Network<T>> $name<T, N> {
            /// With learning rate `lr` and the other settings at their defaults; an error unless
            /// `lr` is finite and `> 0`.
            pub fn new(lr: T) -> Result<Self, SettingError> {
                Ok(Self { lr: check(Setting::LearningRate, lr)?, ..Self::default() })
            }

            /// The same, with moment decays `β₁` and `β₂`; an error unless both are in `[0, 1)`.
            pub fn betas(self, beta1: T, beta2: T) -> Result<Self, SettingError> {
                Ok(Self { beta1: check(Setting::Beta1, beta1)?, beta2: check(Setting::Beta2, beta2)?, ..self })
            }

            /// The same, with `ε`; an error unless it is finite and `> 0`.
            pub fn eps(self, eps: T) -> Result<Self, SettingError> {
                Ok(Self { eps: check(Setting::Eps, eps)?, ..self })
            }

            /// The same, with weight decay `λ`; an error unless it is finite and `≥ 0`.
            pub fn weight_decay(self, weight_decay: T) -> Result<Self, SettingError> {
                Ok(Self { weight_decay: check(Setting::WeightDecay, weight_decay)?, ..self })
            }
        }

        impl<T: Scalar, N: Network<T>> Default for $name<T, N> {
            fn default() -> Self {
                Self {
                    lr: T::from_f64(1e-3),
                    beta1: T::from_f64(0.9),
                    beta2: T::from_f64(0.999),
                    eps: T::from_f64(1e-8),
                    weight_decay: T::from_f64($wd),
                    m: N::zeroed(),
                    v: N::zeroed(),
                    t: 0,
                }
            }
        }

        impl<T: Scalar, N: Params<T>> $name<T, N> {
            fn rule(&self, t: u64) -> Rule<T> {
                let (l2, decoupled) =
                    if $decoupled { (T::ZERO, self.weight_decay) } else { (self.weight_decay, T::ZERO) };
                Rule::new(self.lr, self.beta1, self.beta2, self.eps, t, l2, decoupled)
            }
        }

        impl<T: Scalar, N: Params<T>> Optimizer<T, N> for $name<T, N> {
            fn step(&mut self, net: &mut N, grads: &N) {
                self.t += 1;
                let rule = self.rule(self.t);
                let (m, v) = (self.m.params_mut(), self.v.params_mut());
                // Writing never fails: the result only reports non-finite values when checking.
                let _ = run::<T, true>(rule, net.params_mut(), grads.params(), m, v);
            }

            fn try_step(&mut self, net: &mut N, grads: &N) -> Result<(), usize> {
                let rule = self.rule(self.t + 1);
                // The check pass writes nothing: `run::<false>` never stores through these.
                let (m, v) = (self.m.params_mut(), self.v.params_mut());
                run::<T, false>(rule, net.params_mut(), grads.params(), m, v)?;
                self.step(net, grads);
                Ok(())
            }

            fn learning_rate(&self) -> T {
                self.lr
            }

            fn set_learning_rate(&mut self, lr: T) -> Result<(), SettingError> {
                self.lr = check(Setting::LearningRate, lr)?;
                Ok(())
            }

            fn check_settings(&self) -> Result<(), SettingError> {
                check(Setting::LearningRate, self.lr)?;
                check(Setting::Beta1, self.beta1)?;
                check(Setting::Beta2, self.beta2)?;
                check(Setting::Eps, self.eps)?;
                check(Setting::WeightDecay, self.weight_decay)?;
                Ok(())
            }

            fn reset(&mut self) {
                self.m.set_zero();
                self.v.set_zero();
                self.t = 0;
            }
        }
    };
}

adam_type! {
    /// Adam (Kingma and Ba, 2015) with bias correction, as PyTorch's `torch.optim.Adam`. With
    /// `g' = g + λ p` (L2 weight decay, coupled to the gradient):
    ///
    /// ```text
    /// t ← t + 1
    /// m ← β₁ m + (1 - β₁) g'
    /// v ← β₂ v + (1 - β₂) g'²
    /// p ← p - lr/(1 - β₁ᵗ) · m / (√v / √(1 - β₂ᵗ) + ε)
    /// ```
    ///
    /// Defaults (PyTorch's): `lr = 1e-3`, `β₁ = 0.9`, `β₂ = 0.999`, `ε = 1e-8`, `λ = 0`. The
    /// moments are values of the network's type.
    ///
    /// ```
    /// use backprop::{network, Adam, Network, Optimizer};
    /// network! {
    ///     /// A line.
    ///     #[loss(HalfSquaredError)]
    ///     pub struct Line { input: 1, out: Dense<1, Identity> }
    /// }
    /// let mut net: Line<f64> = Line::zeroed();
    /// let mut adam = Adam::new(0.1).unwrap();
    /// let mut grads = Line::zeroed();
    /// net.backward_batch(&[[1.0]], &[[3.0]], &mut grads);
    /// adam.step(&mut net, &grads);
    /// // The first step moves every parameter with a non-zero gradient by about lr.
    /// assert!((net.out.w[0][0] - 0.1).abs() < 1e-6);
    /// assert_eq!(adam.t, 1);
    /// assert_eq!(adam.m.out.w[0][0], (1.0 - 0.9) * -3.0); // m = (1 - β₁) g
    /// ```
    Adam, default_weight_decay = 0.0, decoupled = false
}

adam_type! {
    /// AdamW (Loshchilov and Hutter, 2019), as PyTorch's `torch.optim.AdamW`: the weight decay is
    /// decoupled from the gradient, `p ← p (1 - lr λ)`, then [`Adam`]'s step with `g' = g`.
    ///
    /// Defaults (PyTorch's): `lr = 1e-3`, `β₁ = 0.9`, `β₂ = 0.999`, `ε = 1e-8`, `λ = 1e-2`.
    ///
    /// ```
    /// use backprop::{network, AdamW, Network, Optimizer};
    /// network! {
    ///     /// A line.
    ///     #[loss(HalfSquaredError)]
    ///     pub struct Line { input: 1, out: Dense<1, Identity> }
    /// }
    /// let mut net: Line<f64> = Line::zeroed();
    /// net.out.w[0][0] = 1.0;
    /// let mut opt = AdamW::new(0.1).unwrap();
    /// assert_eq!(opt.weight_decay, 1e-2);
    /// // With a zero gradient only the decay acts: w ← w (1 - 0.1 · 0.01).
    /// opt.step(&mut net, &Line::zeroed());
    /// assert_eq!(net.out.w[0][0], 0.999);
    /// ```
    AdamW, default_weight_decay = 1e-2, decoupled = true
}
