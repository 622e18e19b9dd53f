//! Per-sample losses and the output error signal `delta = dL/dz` of the last layer.
//!
//! A loss is paired with the activation of the output layer through [`Loss<A>`]: half squared
//! error works after any activation; binary cross-entropy needs a [`Sigmoid`] output and softmax
//! cross-entropy a [`Softmax`] output. For those two pairs the error signal is fused into the
//! exact and stable `y - t`, and the loss is computed from the logits `z`, never from `ln(y)`.

use crate::Scalar;
use crate::activation::{Activation, Sigmoid, Softmax, log_sum_exp, softplus};

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
        for (&y, &t) in a.iter().zip(target) {
            sum += (y - t) * (y - t);
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
        for ((d, &y), &t) in delta.iter_mut().zip(a).zip(target) {
            *d = y - t;
            sum += *d * *d;
        }
        A::backward(z, a, delta);
        sum * T::HALF
    }
}

/// `L = -Σ [t_i ln y_i + (1 - t_i) ln(1 - y_i)]` on a sigmoid output, computed from the logits
/// as `Σ softplus(z_i) - t_i z_i` (finite for any `z`); output error signal `delta = y - t`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct BinaryCrossEntropy;

impl Loss<Sigmoid> for BinaryCrossEntropy {
    const NAME: &'static str = "BinaryCrossEntropy";
    const FORMULA: &'static str = "-sum(t ln y + (1 - t) ln(1 - y))";

    #[inline]
    fn loss<T: Scalar, const N: usize>(z: &[T; N], _: &[T; N], target: &[T; N]) -> T {
        let mut sum = T::ZERO;
        for (&z, &t) in z.iter().zip(target) {
            sum += softplus(z) - t * z;
        }
        sum
    }

    #[inline]
    fn loss_and_delta<T: Scalar, const N: usize>(
        z: &[T; N],
        a: &[T; N],
        target: &[T; N],
        delta: &mut [T; N],
    ) -> T {
        for ((d, &y), &t) in delta.iter_mut().zip(a).zip(target) {
            *d = y - t;
        }
        <Self as Loss<Sigmoid>>::loss(z, a, target)
    }
}

/// `L = -Σ t_i ln softmax(z)_i = (Σ t_i) · logsumexp(z) - Σ t_i z_i` on a softmax output, with
/// the largest logit subtracted (finite in `f32` for logits of any size); output error signal
/// `delta = y · Σt - t`, which is `y - t` for a target distribution.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct SoftmaxCrossEntropy;

impl Loss<Softmax> for SoftmaxCrossEntropy {
    const NAME: &'static str = "SoftmaxCrossEntropy";
    const FORMULA: &'static str = "-sum(t * log_softmax(z))";

    #[inline]
    fn loss<T: Scalar, const N: usize>(z: &[T; N], _: &[T; N], target: &[T; N]) -> T {
        let lse = log_sum_exp(z);
        let mut sum = T::ZERO;
        for (&z, &t) in z.iter().zip(target) {
            // t (lse - z) is -t ln softmax(z): each term is non-negative and finite.
            sum += t * (lse - z);
        }
        sum
    }

    #[inline]
    fn loss_and_delta<T: Scalar, const N: usize>(
        z: &[T; N],
        a: &[T; N],
        target: &[T; N],
        delta: &mut [T; N],
    ) -> T {
        let total: T = target.iter().fold(T::ZERO, |s, &t| s + t);
        for ((d, &y), &t) in delta.iter_mut().zip(a).zip(target) {
            *d = y * total - t;
        }
        <Self as Loss<Softmax>>::loss(z, a, target)
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
