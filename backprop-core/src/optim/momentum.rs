//! SGD with momentum, classical or Nesterov.

use super::{Optimizer, decayed, flush_subnormal};
use crate::Scalar;
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
/// `λ = 0`, classical momentum; PyTorch requires `τ = 0` with Nesterov, and so does
/// [`nesterov`](Momentum::nesterov).
///
/// ```
/// use backprop::{network, Init, Momentum, Network, Optimizer};
/// network! {
///     /// A line.
///     #[loss(HalfSquaredError)]
///     pub struct Line { input: 1, out: Dense<1, Identity> }
/// }
/// let mut net: Line<f64> = Line::zeroed();
/// let mut opt = Momentum::nesterov(0.1, 0.9);
/// let mut grads = Line::zeroed();
/// for _ in 0..100 {
///     net.backward_batch(&[[1.0], [2.0]], &[[3.0], [5.0]], &mut grads);
///     opt.step(&mut net, &grads);
/// }
/// assert!((net.out.w[0][0] - 2.0).abs() < 1e-3 && (net.out.b[0] - 1.0).abs() < 1e-3);
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Momentum<T, N> {
    /// The learning rate `lr`.
    pub lr: T,
    /// The momentum `μ`.
    pub momentum: T,
    /// The dampening `τ`. Default `0`.
    pub dampening: T,
    /// Nesterov's variant. Default `false`.
    pub nesterov: bool,
    /// L2 weight decay `λ`. Default `0`.
    pub weight_decay: T,
    /// The velocity `b`, one value per parameter.
    pub velocity: N,
    /// Whether a step has been taken (the first step sets `b = g'`).
    pub started: bool,
}

impl<T: Scalar, N: Network<T>> Momentum<T, N> {
    /// Classical momentum `μ` with learning rate `lr`.
    pub fn new(lr: T, momentum: T) -> Self {
        Self {
            lr,
            momentum,
            dampening: T::ZERO,
            nesterov: false,
            weight_decay: T::ZERO,
            velocity: N::zeroed(),
            started: false,
        }
    }

    /// Nesterov momentum `μ` with learning rate `lr` (dampening zero).
    pub fn nesterov(lr: T, momentum: T) -> Self {
        Self { nesterov: true, ..Self::new(lr, momentum) }
    }

    /// The same, with dampening `τ`.
    pub fn dampening(self, dampening: T) -> Self {
        Self { dampening, ..self }
    }

    /// The same, with L2 weight decay `λ`.
    pub fn weight_decay(self, weight_decay: T) -> Self {
        Self { weight_decay, ..self }
    }
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

    fn set_learning_rate(&mut self, lr: T) {
        self.lr = lr;
    }

    fn reset(&mut self) {
        self.velocity.set_zero();
        self.started = false;
    }
}
