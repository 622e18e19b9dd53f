//! Plain stochastic gradient descent.

use super::{Optimizer, check, decayed};
use crate::Scalar;
use crate::error::{Setting, SettingError};
use crate::network::Params;

/// Stochastic gradient descent: `p ← p - lr (g + λ p)`. No state.
///
/// Defaults (PyTorch's `torch.optim.SGD`): `lr = 1e-3`, `weight_decay λ = 0`.
///
/// ```
/// use backprop_core::{Dense, Optimizer, Params, Sgd};
/// let mut layer = Dense::<f64, 2, 1>::new([[1.0, 2.0]], [0.5]);
/// let grads = Dense::new([[0.5, -1.0]], [2.0]);
/// Sgd::new(0.1)?.step(&mut layer, &grads);
/// assert_eq!(layer.params(), &[1.0 - 0.05, 2.0 + 0.1, 0.5 - 0.2]);
/// assert!(Sgd::new(-0.5f64).is_err()); // gradient ascent
/// # Ok::<(), backprop_core::error::SettingError>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Sgd<T> {
    /// The learning rate `lr`, finite and `> 0`. Default `1e-3`. (Written directly, it is checked
    /// by [`Optimizer::check_settings`], before every [`Trainer`](crate::Trainer) step.)
    pub lr: T,
    /// L2 weight decay `λ`, finite and `≥ 0`, added to the gradient as `λ p`. Default `0`.
    pub weight_decay: T,
}

impl<T: Scalar> Sgd<T> {
    /// SGD with learning rate `lr` and no weight decay; an error unless `lr` is finite and `> 0`.
    pub fn new(lr: T) -> Result<Self, SettingError> {
        Ok(Self { lr: check(Setting::LearningRate, lr)?, weight_decay: T::ZERO })
    }

    /// The same, with L2 weight decay `λ`; an error unless `λ` is finite and `≥ 0`.
    pub fn weight_decay(self, weight_decay: T) -> Result<Self, SettingError> {
        Ok(Self { weight_decay: check(Setting::WeightDecay, weight_decay)?, ..self })
    }

    #[inline(always)]
    fn rule(&self, p: T, g: T) -> T {
        p - self.lr * decayed(g, p, self.weight_decay)
    }
}

impl<T: Scalar> Default for Sgd<T> {
    fn default() -> Self {
        Self { lr: T::from_f64(1e-3), weight_decay: T::ZERO }
    }
}

impl<T: Scalar, N: Params<T>> Optimizer<T, N> for Sgd<T> {
    fn step(&mut self, net: &mut N, grads: &N) {
        for (p, &g) in net.params_mut().iter_mut().zip(grads.params()) {
            *p = self.rule(*p, g);
        }
    }

    fn try_step(&mut self, net: &mut N, grads: &N) -> Result<(), usize> {
        if let Some(bad) =
            net.params().iter().zip(grads.params()).position(|(&p, &g)| !self.rule(p, g).is_finite())
        {
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
        check(Setting::LearningRate, self.lr)?;
        check(Setting::WeightDecay, self.weight_decay)?;
        Ok(())
    }

    fn reset(&mut self) {}
}
