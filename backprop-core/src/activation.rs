//! Activation functions `a = f(z)` and their backward rules `dL/dz = f'(z) · dL/da`.
//!
//! Each activation is a zero-sized type. The elementwise ones implement [`Elementwise`] (a scalar
//! function and its derivative); [`Softmax`] couples the whole vector and implements
//! [`Activation`] directly with its Jacobian-vector product.
//!
//! In fixed point ([`I16F16`](crate::I16F16)) the same code runs on the format's own `exp`,
//! `tanh` and `ln_1p` (each within half an ulp, `2⁻¹⁷`): `tanh` is `±1` beyond `|z| ≥ 7`;
//! `sigmoid` is `1 / (1 + e^-z)`, `1` from `z ≈ 11.8` and two ulps (`3e-5`) at the bottom, where
//! `e^-z` saturates; `softplus` and `softmax` subtract before exponentiating, so they never
//! saturate on logits the format holds; relu is exact, and leaky relu rounds its `0.01 z`.

use crate::Scalar;

/// An activation applied to a whole layer: `a = f(z)` forward, `delta ← J_f(z)ᵀ · delta` backward.
///
/// ```
/// use backprop_core::{Activation, Relu};
/// let z = [-1.0f64, 0.0, 2.0];
/// let mut a = [0.0; 3];
/// Relu::forward(&z, &mut a);
/// assert_eq!(a, [0.0, 0.0, 2.0]);
/// let mut delta = [5.0, 5.0, 5.0]; // dL/da on entry, dL/dz on return
/// Relu::backward(&z, &a, &mut delta);
/// assert_eq!(delta, [0.0, 0.0, 5.0]); // relu'(0) = 0
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not an activation",
    label = "used as an activation here",
    note = "an activation is a type implementing `backprop::Activation`, or `backprop::Elementwise` for one that acts on each neuron alone (a scalar function and its derivative)"
)]
pub trait Activation: Copy + Default + core::fmt::Debug + 'static {
    /// The name used in the `network!` spec, for example `"Sigmoid"`.
    const NAME: &'static str;
    /// The formula, for documentation and reports, for example `"1 / (1 + e^-z)"`.
    const FORMULA: &'static str;
    /// Whether this is a rectifier (zero or nearly so for negative `z`), for which
    /// [`Init::Auto`](crate::init::Init::Auto) draws He-normal weights instead of Xavier-uniform
    /// ones. `false` unless an implementation says otherwise.
    const RECTIFIER: bool = false;

    /// `a = f(z)`.
    fn forward<T: Scalar, const N: usize>(z: &[T; N], a: &mut [T; N]);

    /// Turns `delta` from `dL/da` into `dL/dz`, given `z` and `a = f(z)` from the forward pass.
    fn backward<T: Scalar, const N: usize>(z: &[T; N], a: &[T; N], delta: &mut [T; N]);
}

/// An activation that acts on each neuron alone: `a_i = f(z_i)`, with derivative `f'(z_i)`.
///
/// A user's own activation implements this trait, and then names it by its path in a spec
/// (`hidden: Dense<16, crate::Swish>`):
///
/// ```
/// use backprop_core::{Elementwise, Scalar, Sigmoid};
/// /// `f(z) = z σ(z)` (SiLU), `f'(z) = σ(z) (1 + z (1 - σ(z)))`.
/// #[derive(Clone, Copy, Debug, Default)]
/// pub struct Swish;
/// impl Elementwise for Swish {
///     const NAME: &'static str = "Swish";
///     const FORMULA: &'static str = "z / (1 + e^-z)";
///     fn f<T: Scalar>(z: T) -> T {
///         z * Sigmoid::f(z)
///     }
///     fn df<T: Scalar>(z: T, _: T) -> T {
///         let s = Sigmoid::f(z);
///         s * (T::ONE + z * (T::ONE - s))
///     }
/// }
/// assert_eq!(Swish::f(0.0f64), 0.0);
/// ```
pub trait Elementwise: Copy + Default + core::fmt::Debug + 'static {
    /// The name used in the `network!` spec.
    const NAME: &'static str;
    /// The formula, for documentation and reports.
    const FORMULA: &'static str;
    /// See [`Activation::RECTIFIER`].
    const RECTIFIER: bool = false;
    /// `f(z)`.
    fn f<T: Scalar>(z: T) -> T;
    /// `f'(z)`, given `z` and `a = f(z)` (whichever is cheaper to use).
    fn df<T: Scalar>(z: T, a: T) -> T;
}

impl<E: Elementwise> Activation for E {
    const NAME: &'static str = E::NAME;
    const FORMULA: &'static str = E::FORMULA;
    const RECTIFIER: bool = E::RECTIFIER;

    // Index loops over the constant size, not `zip`: see "Index loops" in `crate::scalar`.
    #[inline]
    fn forward<T: Scalar, const N: usize>(z: &[T; N], a: &mut [T; N]) {
        for i in 0..N {
            a[i] = E::f(z[i]);
        }
    }

    #[inline]
    fn backward<T: Scalar, const N: usize>(z: &[T; N], a: &[T; N], delta: &mut [T; N]) {
        for i in 0..N {
            delta[i] *= E::df(z[i], a[i]);
        }
    }
}

/// `f(z) = z`, `f'(z) = 1`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Identity;

impl Elementwise for Identity {
    const NAME: &'static str = "Identity";
    const FORMULA: &'static str = "z";
    #[inline(always)]
    fn f<T: Scalar>(z: T) -> T {
        z
    }
    #[inline(always)]
    fn df<T: Scalar>(_: T, _: T) -> T {
        T::ONE
    }
}

/// The logistic function `f(z) = 1 / (1 + e^-z)`, `f'(z) = a (1 - a)`, at most `0.25`.
///
/// Computed as `1 / (1 + e^-z)`, which is finite and never NaN for any `z` (see [`sigmoid`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Sigmoid;

impl Elementwise for Sigmoid {
    const NAME: &'static str = "Sigmoid";
    const FORMULA: &'static str = "1 / (1 + e^-z)";
    #[inline(always)]
    fn f<T: Scalar>(z: T) -> T {
        sigmoid(z)
    }
    #[inline(always)]
    fn df<T: Scalar>(_: T, a: T) -> T {
        a * (T::ONE - a)
    }
}

/// The logistic function `1 / (1 + e^-z)`, for any `z`.
///
/// No branch on the sign of `z` (a mispredicted branch per neuron costs more than the
/// arithmetic): for very negative `z`, `e^-z` overflows to `+inf` and the result is `+0` where the
/// exact value is subnormal anyway (below `1.2e-38` in `f32`, `2.2e-308` in `f64`); never NaN.
#[inline(always)]
pub fn sigmoid<T: Scalar>(z: T) -> T {
    T::ONE / (T::ONE + (-z).exp())
}

/// `f(z) = tanh(z)`, `f'(z) = 1 - a²`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Tanh;

impl Elementwise for Tanh {
    const NAME: &'static str = "Tanh";
    const FORMULA: &'static str = "tanh(z)";
    #[inline(always)]
    fn f<T: Scalar>(z: T) -> T {
        z.tanh()
    }
    #[inline(always)]
    fn df<T: Scalar>(_: T, a: T) -> T {
        T::ONE - a * a
    }
}

/// `f(z) = max(z, 0)`; `f'(z) = 1` for `z > 0` and `0` otherwise (so `relu'(0) = 0`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Relu;

impl Elementwise for Relu {
    const NAME: &'static str = "Relu";
    const RECTIFIER: bool = true;
    const FORMULA: &'static str = "max(z, 0)";
    #[inline(always)]
    fn f<T: Scalar>(z: T) -> T {
        if z > T::ZERO { z } else { T::ZERO }
    }
    #[inline(always)]
    fn df<T: Scalar>(z: T, _: T) -> T {
        if z > T::ZERO { T::ONE } else { T::ZERO }
    }
}

/// `f(z) = z` for `z > 0`, `0.01 z` otherwise; `f'(z) = 1` for `z > 0`, `0.01` otherwise.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct LeakyRelu;

impl LeakyRelu {
    /// The slope for `z <= 0`.
    pub const SLOPE: f64 = 0.01;
}

impl Elementwise for LeakyRelu {
    const NAME: &'static str = "LeakyRelu";
    const RECTIFIER: bool = true;
    const FORMULA: &'static str = "z if z > 0, else 0.01 z";
    #[inline(always)]
    fn f<T: Scalar>(z: T) -> T {
        if z > T::ZERO { z } else { z * T::from_f64(Self::SLOPE) }
    }
    #[inline(always)]
    fn df<T: Scalar>(z: T, _: T) -> T {
        if z > T::ZERO { T::ONE } else { T::from_f64(Self::SLOPE) }
    }
}

/// `f(z) = ln(1 + e^z)`, `f'(z) = 1 / (1 + e^-z)`.
///
/// Computed as `max(z, 0) + ln(1 + e^-|z|)`: no overflow, and accurate for large `|z|`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Softplus;

impl Elementwise for Softplus {
    const NAME: &'static str = "Softplus";
    const FORMULA: &'static str = "ln(1 + e^z)";
    #[inline(always)]
    fn f<T: Scalar>(z: T) -> T {
        softplus(z)
    }
    #[inline(always)]
    fn df<T: Scalar>(z: T, _: T) -> T {
        sigmoid(z)
    }
}

/// `ln(1 + e^z)`, stable for any `z`.
#[inline(always)]
pub fn softplus<T: Scalar>(z: T) -> T {
    z.max(T::ZERO) + (-z.abs()).exp().ln_1p()
}

/// `a_i = e^{z_i} / Σ_j e^{z_j}`, computed with the largest `z` subtracted so that no `e^z`
/// overflows. Allowed on the output layer only.
///
/// Backward: `dL/dz_i = a_i (dL/da_i - Σ_j a_j dL/da_j)`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Softmax;

impl Activation for Softmax {
    const NAME: &'static str = "Softmax";
    const FORMULA: &'static str = "e^z_i / sum_j e^z_j";

    #[inline]
    fn forward<T: Scalar, const N: usize>(z: &[T; N], a: &mut [T; N]) {
        let max = max_of(z);
        let mut sum = T::ZERO;
        for i in 0..N {
            a[i] = (z[i] - max).exp();
            sum += a[i];
        }
        let inv = T::ONE / sum;
        for a in a.iter_mut() {
            *a *= inv;
        }
    }

    #[inline]
    fn backward<T: Scalar, const N: usize>(_: &[T; N], a: &[T; N], delta: &mut [T; N]) {
        let mut dot = T::ZERO;
        for i in 0..N {
            dot += a[i] * delta[i];
        }
        for i in 0..N {
            delta[i] = a[i] * (delta[i] - dot);
        }
    }
}

/// The largest element (`-inf` for an empty array; NaN elements are skipped by `max`).
#[inline]
pub(crate) fn max_of<T: Scalar, const N: usize>(z: &[T; N]) -> T {
    z.iter().fold(-T::INFINITY, |m, &v| m.max(v))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn numeric_derivative<E: Elementwise>(z: f64) -> f64 {
        let h = 1e-6;
        (E::f(z + h) - E::f(z - h)) / (2.0 * h)
    }

    fn check<E: Elementwise>() {
        for &z in &[-30.0, -3.0, -0.7, -0.01, 0.013, 0.5, 2.0, 31.0] {
            let a = E::f(z);
            let exact = E::df(z, a);
            let numeric = numeric_derivative::<E>(z);
            assert!((exact - numeric).abs() < 1e-8, "{}: f'({z}) = {exact}, numeric {numeric}", E::NAME);
        }
    }

    #[test]
    fn derivatives_match_finite_differences() {
        check::<Identity>();
        check::<Sigmoid>();
        check::<Tanh>();
        check::<Relu>();
        check::<LeakyRelu>();
        check::<Softplus>();
    }

    #[test]
    fn values() {
        assert_eq!(Sigmoid::f(0.0f64), 0.5);
        assert_eq!(Sigmoid::f(-1000.0f32), 0.0);
        assert_eq!(Sigmoid::f(1000.0f32), 1.0);
        assert_eq!(Relu::df(0.0f64, 0.0), 0.0);
        assert_eq!(LeakyRelu::f(-2.0f64), -0.02);
        assert_eq!(Softplus::f(1000.0f32), 1000.0);
        assert!((Softplus::f(0.0f64) - core::f64::consts::LN_2).abs() < 1e-16);
        assert!(Softplus::f(-800.0f64) >= 0.0);
    }

    #[test]
    fn softmax_is_stable_and_sums_to_one() {
        let z = [100.0f32, 99.0, -100.0];
        let mut a = [0.0; 3];
        Softmax::forward(&z, &mut a);
        assert!(a.iter().all(|v| v.is_finite()));
        assert!((a.iter().sum::<f32>() - 1.0).abs() < 1e-6);
        assert!((a[0] - 1.0 / (1.0 + (-1.0f32).exp())).abs() < 1e-6);
    }

    #[test]
    fn softmax_backward_is_the_jacobian_transpose_product() {
        let z = [0.3f64, -1.2, 2.0, 0.0];
        let mut a = [0.0; 4];
        Softmax::forward(&z, &mut a);
        let g = [0.5, -1.0, 0.25, 2.0];
        let mut delta = g;
        Softmax::backward(&z, &a, &mut delta);
        // dL/dz_j = Σ_i g_i ∂a_i/∂z_j, with ∂a_i/∂z_j by central differences.
        for j in 0..4 {
            let h = 1e-6;
            let (mut zp, mut zm) = (z, z);
            zp[j] += h;
            zm[j] -= h;
            let (mut ap, mut am) = ([0.0; 4], [0.0; 4]);
            Softmax::forward(&zp, &mut ap);
            Softmax::forward(&zm, &mut am);
            let numeric: f64 = (0..4).map(|i| g[i] * (ap[i] - am[i]) / (2.0 * h)).sum();
            assert!((numeric - delta[j]).abs() < 1e-9, "j = {j}: {numeric} vs {}", delta[j]);
        }
    }
}
