//! SGD with momentum, classical or Nesterov.

use super::{Optimizer, check, decayed, flush_subnormal};
use crate::Scalar;
use crate::error::{Setting, SettingError};
use crate::network::{Network, Params};

/// SGD with momentum, as PyTorch's `torch.optim.SGD` computes it. With `g' = g + λ p`:
///
/// ```text
/// b ← g'                       on the first step
/// b ← μ b + (1 - τ) g'         afterwards
/// p ← p - lr b                 (classical)
/// p ← p - lr (g' + μ b)        (Nesterov)
/// ```
///
/// The velocity `b` is a value of the network's type. Defaults: dampening `τ = 0`, weight decay
/// `λ = 0`, classical momentum. Settings are checked when made: `lr` finite and `> 0`, `μ` in
/// `[0, 1)`, `τ` in `[0, 1]`, `λ` finite and `≥ 0`; with Nesterov (as PyTorch requires) `μ > 0`
/// and `τ = 0`.
///
/// ```
/// use backprop::{network, Init, Momentum, Network, Optimizer};
/// network! {
///     /// A line.
///     #[loss(HalfSquaredError)]
///     pub struct Line { input: 1, out: Dense<1, Identity> }
/// }
/// let mut net: Line<f64> = Line::zeroed();
/// let mut opt = Momentum::nesterov(0.1, 0.9).unwrap();
/// let mut grads = Line::zeroed();
/// for _ in 0..100 {
///     net.backward_batch(&[[1.0], [2.0]], &[[3.0], [5.0]], &mut grads);
///     opt.step(&mut net, &grads);
/// }
/// assert!((net.out.w[0][0] - 2.0).abs() < 1e-3 && (net.out.b[0] - 1.0).abs() < 1e-3);
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Momentum<T, N> {
    /// The learning rate `lr`, finite and `> 0`. (Written directly, it is checked by
    /// [`Optimizer::check_settings`], before every [`Trainer`](crate::Trainer) step; so are the
    /// others.)
    pub lr: T,
    /// The momentum `μ`, in `[0, 1)` (`(0, 1)` with Nesterov).
    pub momentum: T,
    /// The dampening `τ`, in `[0, 1]` (`0` with Nesterov). Default `0`.
    pub dampening: T,
    /// Nesterov's variant. Default `false`.
    pub nesterov: bool,
    /// L2 weight decay `λ`, finite and `≥ 0`. Default `0`.
    pub weight_decay: T,
    /// The velocity `b`, one value per parameter.
    pub velocity: N,
    /// Whether a step has been taken (the first step sets `b = g'`).
    pub started: bool,
}

impl<T: Scalar, N: Network<T>> Momentum<T, N> {
    /// Classical momentum `μ` with learning rate `lr`; an error unless `lr` is finite and `> 0`
    /// and `μ` in `[0, 1)`.
    pub fn new(lr: T, momentum: T) -> Result<Self, SettingError> {
        let opt = Self {
            lr,
            momentum,
            dampening: T::ZERO,
            nesterov: false,
            weight_decay: T::ZERO,
            velocity: N::zeroed(),
            started: false,
        };
        settings(&opt)?;
        Ok(opt)
    }

    /// Nesterov momentum `μ` with learning rate `lr` (dampening zero); an error unless `lr` is
    /// finite and `> 0` and `μ` in `(0, 1)`.
    pub fn nesterov(lr: T, momentum: T) -> Result<Self, SettingError> {
        let opt = Self {
            lr,
            momentum,
            dampening: T::ZERO,
            nesterov: true,
            weight_decay: T::ZERO,
            velocity: N::zeroed(),
            started: false,
        };
        settings(&opt)?;
        Ok(opt)
    }

    /// The same, with dampening `τ`; an error unless `τ` is in `[0, 1]` (exactly `0` with
    /// Nesterov momentum).
    pub fn dampening(self, dampening: T) -> Result<Self, SettingError> {
        let opt = Self { dampening, ..self };
        settings(&opt)?;
        Ok(opt)
    }

    /// The same, with L2 weight decay `λ`; an error unless `λ` is finite and `≥ 0`.
    pub fn weight_decay(self, weight_decay: T) -> Result<Self, SettingError> {
        Ok(Self { weight_decay: check(Setting::WeightDecay, weight_decay)?, ..self })
    }
}

/// Checks every setting of `opt`, Nesterov's narrower ranges included.
fn settings<T: Scalar, N>(opt: &Momentum<T, N>) -> Result<(), SettingError> {
    check(Setting::LearningRate, opt.lr)?;
    let (momentum, dampening) = (opt.momentum.to_f64(), opt.dampening.to_f64());
    if opt.nesterov {
        if !(momentum > 0.0 && momentum < 1.0) {
            return Err(SettingError {
                setting: Setting::Momentum,
                value: momentum,
                expected: "in (0, 1) with Nesterov momentum",
            });
        }
        if dampening != 0.0 {
            return Err(SettingError {
                setting: Setting::Dampening,
                value: dampening,
                expected: "0 with Nesterov momentum",
            });
        }
    }
    check(Setting::Momentum, opt.momentum)?;
    check(Setting::Dampening, opt.dampening)?;
    check(Setting::WeightDecay, opt.weight_decay)?;
    Ok(())
}

/// The scalars of one step, copied out so the velocity can be borrowed mutably beside them.
#[derive(Clone, Copy)]
struct Rule<T> {
    lr: T,
    momentum: T,
    dampening: T,
    nesterov: bool,
    weight_decay: T,
    started: bool,
}

impl<T: Scalar> Rule<T> {
    /// The new parameter and velocity.
    #[inline(always)]
    fn apply(self, p: T, g: T, b: T) -> (T, T) {
        let g = decayed(g, p, self.weight_decay);
        let b = if self.started { self.momentum * b + (T::ONE - self.dampening) * g } else { g };
        let b = flush_subnormal(b);
        let d = if self.nesterov { g + self.momentum * b } else { b };
        (p - self.lr * d, b)
    }
}

impl<T: Scalar, N: Params<T>> Momentum<T, N> {
    fn rule(&self) -> Rule<T> {
        Rule {
            lr: self.lr,
            momentum: self.momentum,
            dampening: self.dampening,
            nesterov: self.nesterov,
            weight_decay: self.weight_decay,
            started: self.started,
        }
    }
}

impl<T: Scalar, N: Params<T>> Optimizer<T, N> for Momentum<T, N> {
    fn step(&mut self, net: &mut N, grads: &N) {
        let rule = self.rule();
        for ((p, &g), b) in net.params_mut().iter_mut().zip(grads.params()).zip(self.velocity.params_mut()) {
            (*p, *b) = rule.apply(*p, g, *b);
        }
        self.started = true;
    }

    fn try_step(&mut self, net: &mut N, grads: &N) -> Result<(), usize> {
        let rule = self.rule();
        let bad =
            net.params().iter().zip(grads.params()).zip(self.velocity.params()).position(|((&p, &g), &b)| {
                let (p, b) = rule.apply(p, g, b);
                !(p.is_finite() && b.is_finite())
            });
        if let Some(bad) = bad {
            return Err(bad);
        }
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
        settings(self)
    }

    fn reset(&mut self) {
        self.velocity.set_zero();
        self.started = false;
    }
}
