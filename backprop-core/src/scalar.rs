//! The scalar type a network computes in: `f32`, `f64` or the fixed-point [`I16F16`](crate::I16F16).
//!
//! # Index loops
//!
//! The loops over a layer's neurons (activations, losses, biases, the small kernels) index their
//! constant-size arrays, `for i in 0..N`, rather than `zip` them. At `opt-level = "s"` (what
//! embedded crates build with) LLVM keeps the standard library's `Zip` constructor and its
//! `size` helper as calls, two or three for every loop: on the 2-2-1 network they were a fifth of
//! an inference. A range over a constant has no helper to call, and the compiler drops the bounds
//! checks of the indices, in every profile.

use core::fmt::{Debug, Display};
use core::ops::{Add, AddAssign, Div, DivAssign, Mul, MulAssign, Neg, Sub, SubAssign};

mod sealed {
    pub trait Sealed {}
    impl Sealed for f32 {}
    impl Sealed for f64 {}
    impl Sealed for crate::I16F16 {}
}

/// A scalar: implemented for `f32`, `f64` and the fixed-point [`I16F16`](crate::I16F16), and sealed.
///
/// The constants and functions below are described as for floating point; for `I16F16`, whose
/// overflow saturates instead of reaching infinity and whose functions are its own, see the
/// [`fixed`](crate::fixed) module. Every kernel of the crate is generic over it. The transcendental functions (`exp`, `ln`,
/// `ln_1p`, `tanh`) come from the platform's maths library with the `std` feature (on x86_64
/// Linux, glibc's, which picks FMA versions at run time), and from `libm` without it, as on bare
/// metal; both are within an ulp or so of the exact value, but not always the same ulp, so a
/// network trained with and without `std` can differ in the last bits. With `std`, `tanh` and
/// `ln_1p` in `f32` are computed through an `f64` exponential and logarithm: within an ulp, and
/// faster than `tanhf` and `log1pf`. Square roots are exact
/// either way, and initialisers use `libm` always: equal seeds give equal weights on every target.
///
/// ```
/// use backprop_core::Scalar;
/// fn half<T: Scalar>(x: T) -> T { x * T::HALF }
/// assert_eq!(half(3.0f32), 1.5);
/// assert_eq!(f64::from_f64(0.25).exp(), 0.25f64.exp());
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a scalar networks compute in",
    label = "networks compute in `f32`, `f64` or `I16F16`",
    note = "write the network's type as `Net<f32>` (the default, `Net`), `Net<f64>` or `Net<I16F16>`"
)]
pub trait Scalar:
    sealed::Sealed
    + Copy
    + Default
    + PartialEq
    + PartialOrd
    + Debug
    + Display
    + Send
    + Sync
    + 'static
    + Add<Output = Self>
    + Sub<Output = Self>
    + Mul<Output = Self>
    + Div<Output = Self>
    + Neg<Output = Self>
    + AddAssign
    + SubAssign
    + MulAssign
    + DivAssign
{
    /// `0`.
    const ZERO: Self;
    /// `1`.
    const ONE: Self;
    /// `0.5`.
    const HALF: Self;
    /// The difference between `1` and the next larger value.
    const EPSILON: Self;
    /// Positive infinity.
    const INFINITY: Self;
    /// The smallest positive normal value; below it, in magnitude, values are subnormal.
    const MIN_POSITIVE: Self;
    /// The type's name, `"f32"`, `"f64"` or `"I16F16"`.
    const NAME: &'static str;
    /// A one-byte tag that identifies the type in serialised parameters (`4` for `f32`, `8` for
    /// `f64`, `0x51` for `I16F16`). The kernels take their `f32`-only paths (AVX, FMA) on tag `4`
    /// alone.
    const TAG: u8;

    /// Converts from `f64`, rounding to nearest.
    fn from_f64(x: f64) -> Self;
    /// Converts to `f64` (exact).
    fn to_f64(self) -> f64;
    /// `e^self`.
    fn exp(self) -> Self;
    /// Natural logarithm.
    fn ln(self) -> Self;
    /// `ln(1 + self)`, accurate for small `self`.
    fn ln_1p(self) -> Self;
    /// Hyperbolic tangent.
    fn tanh(self) -> Self;
    /// Square root.
    fn sqrt(self) -> Self;
    /// Absolute value.
    fn abs(self) -> Self;
    /// `true` unless the value is infinite or NaN.
    fn is_finite(self) -> bool;
    /// The larger of the two; NaN if either is NaN is not guaranteed (IEEE `maxNum`).
    fn max(self, other: Self) -> Self;
    /// The smaller of the two (IEEE `minNum`).
    fn min(self, other: Self) -> Self;
    /// `self * a + b`. A plain multiply-add (two roundings): the crate never relies on fusion.
    #[inline(always)]
    fn mul_add(self, a: Self, b: Self) -> Self {
        self * a + b
    }
}

macro_rules! impl_scalar {
    ($t:ident, $tag:literal, $exp:path, $ln:path, $ln_1p:path, $tanh:path, $sqrt:path) => {
        impl Scalar for $t {
            const ZERO: Self = 0.0;
            const ONE: Self = 1.0;
            const HALF: Self = 0.5;
            const EPSILON: Self = $t::EPSILON;
            const INFINITY: Self = $t::INFINITY;
            const MIN_POSITIVE: Self = $t::MIN_POSITIVE;
            const NAME: &'static str = stringify!($t);
            const TAG: u8 = $tag;

            #[inline(always)]
            fn from_f64(x: f64) -> Self {
                x as $t
            }
            #[inline(always)]
            fn to_f64(self) -> f64 {
                self as f64
            }
            #[inline(always)]
            fn exp(self) -> Self {
                $exp(self)
            }
            #[inline(always)]
            fn ln(self) -> Self {
                $ln(self)
            }
            #[inline(always)]
            fn ln_1p(self) -> Self {
                $ln_1p(self)
            }
            #[inline(always)]
            fn tanh(self) -> Self {
                $tanh(self)
            }
            #[inline(always)]
            fn sqrt(self) -> Self {
                $sqrt(self)
            }
            #[inline(always)]
            fn abs(self) -> Self {
                $t::abs(self)
            }
            #[inline(always)]
            fn is_finite(self) -> bool {
                $t::is_finite(self)
            }
            #[inline(always)]
            fn max(self, other: Self) -> Self {
                $t::max(self, other)
            }
            #[inline(always)]
            fn min(self, other: Self) -> Self {
                $t::min(self, other)
            }
        }
    };
}

/// `tanh` for `f32`, as `(1 - e) / (1 + e)` with `e = e^(-2|z|)` computed in `f64`: one `f64`
/// exponential, cheaper than a `tanhf`, and within half an ulp or so of
/// the exact value, closer than glibc's `tanhf` (up to 2 ulp): the `f64` cancellation in `1 - e`
/// is below `2.3e-13` relative for `|z| ≥ 2⁻¹²`, and below that `tanh(z)` rounds to `z`. Odd,
/// `±1` at `±∞`, NaN for NaN. Checked against `f64::tanh` in the tests.
///
/// With `std` only: without it (bare metal), `f64` arithmetic is often emulated in software, and
/// `libm::tanhf` is used.
#[cfg(feature = "std")]
#[inline]
fn tanh_f32(z: f32) -> f32 {
    let a = f32::abs(z);
    if a < 1.0 / 4096.0 || a.is_nan() {
        return z; // tiny (tanh(z) rounds to z), or NaN
    }
    let e = std::primitive::f64::exp(-2.0 * a as f64);
    let t = (1.0 - e) / (1.0 + e);
    f32::copysign(t as f32, z)
}

/// `ln(1 + x)` for `f32`, as the `f64` logarithm of `1 + x`: exact in `f64` for
/// `2⁻²⁹ ≤ |x| < 2⁵²` (at most 53 significant bits), and for `|x| < 2⁻²⁹`, where `ln(1 + x)`
/// rounds to `x`, `x` itself. One rounding of a result within an ulp of `f64`: within half an ulp
/// or so of the exact value, closer than glibc's `log1pf` (up to an ulp), and about twice as fast
/// (`log` is table-driven, `log1pf` the older series). `-∞` at `-1`, NaN below it and for NaN.
/// Checked against `f64::ln_1p` in the tests.
///
/// With `std` only, as [`tanh_f32`].
#[cfg(feature = "std")]
#[inline]
fn ln_1p_f32(x: f32) -> f32 {
    if f32::abs(x) < 1.0 / 536_870_912.0 {
        return x; // |x| < 2^-29 (or ±0): ln(1 + x) = x (1 - x/2 + ...) rounds to x
    }
    std::primitive::f64::ln(1.0 + x as f64) as f32
}

#[cfg(feature = "std")]
impl_scalar!(f32, 4, std::primitive::f32::exp, std::primitive::f32::ln, ln_1p_f32, tanh_f32, libm::sqrtf);
#[cfg(feature = "std")]
impl_scalar!(
    f64,
    8,
    std::primitive::f64::exp,
    std::primitive::f64::ln,
    std::primitive::f64::ln_1p,
    std::primitive::f64::tanh,
    libm::sqrt
);
#[cfg(not(feature = "std"))]
impl_scalar!(f32, 4, libm::expf, libm::logf, libm::log1pf, libm::tanhf, libm::sqrtf);
#[cfg(not(feature = "std"))]
impl_scalar!(f64, 8, libm::exp, libm::log, libm::log1p, libm::tanh, libm::sqrt);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constants_and_conversions() {
        assert_eq!(f32::TAG, 4);
        assert_eq!(f64::TAG, 8);
        assert_eq!(<f32 as Scalar>::NAME, "f32");
        assert_eq!(f64::from_f64(0.1), 0.1);
        assert_eq!(f32::from_f64(0.1), 0.1f32);
        assert_eq!(Scalar::exp(0.0f64), 1.0);
        assert!((Scalar::ln_1p(1e-10f64) - 1e-10).abs() < 1e-20);
        assert!(!Scalar::is_finite(f32::NAN));
    }

    /// With `std`, `ln_1p` in `f32` goes through an `f64` logarithm: within half an ulp (and a
    /// hair, for the double rounding) of `f64::ln_1p`, on a grid from `-1` to `1e30`.
    #[cfg(feature = "std")]
    #[test]
    fn f32_ln_1p_is_within_half_an_ulp() {
        let mut worst = 0.0f64;
        let mut check = |x: f32| {
            let got = Scalar::ln_1p(x);
            let exact = (x as f64).ln_1p();
            let rounded = (exact as f32).abs();
            let ulp = (f32::from_bits(rounded.to_bits() + 1) - rounded) as f64;
            worst = worst.max((got as f64 - exact).abs() / ulp);
        };
        for i in -100_000i32..=100_000 {
            check(i as f32 * 1e-5 * (1.0 - (i.rem_euclid(7)) as f32 * 1e-3)); // (-1, 1)
        }
        for k in 0..=200_000 {
            let x = 2f32.powf(-40.0 + k as f32 * 1e-3 * 1.37); // 2^-40 to 1e30
            check(x);
            check(-x.min(0.999_999));
        }
        assert!(worst <= 0.5 + 1e-6, "worst error {worst} ulp");
        assert_eq!(Scalar::ln_1p(-1.0f32), f32::NEG_INFINITY);
        assert_eq!(Scalar::ln_1p(f32::INFINITY), f32::INFINITY);
        assert_eq!(Scalar::ln_1p(-0.0f32).to_bits(), (-0.0f32).to_bits());
        assert_eq!(Scalar::ln_1p(1e-30f32), 1e-30);
        assert_eq!(Scalar::ln_1p(f32::MIN_POSITIVE / 4.0), f32::MIN_POSITIVE / 4.0);
        assert!(Scalar::ln_1p(-2.0f32).is_nan());
        assert!(Scalar::ln_1p(f32::NEG_INFINITY).is_nan());
        assert!(Scalar::ln_1p(f32::NAN).is_nan());
    }

    /// With `std`, `tanh` in `f32` goes through an `f64` exponential (without, `libm::tanhf`,
    /// whose error reaches 1.9 ulp on this grid, as glibc's `tanhf` does).
    #[cfg(feature = "std")]
    #[test]
    fn f32_tanh_is_within_an_ulp() {
        let mut worst = 0.0f64;
        for i in -200_000..=200_000 {
            let z = i as f32 * 1e-4 * (1.0 + (i % 7) as f32 * 0.1);
            let got = Scalar::tanh(z);
            let exact = (z as f64).tanh();
            let ulp = (f32::from_bits((exact as f32).abs().to_bits() + 1) - (exact as f32).abs()) as f64;
            let err = (got as f64 - exact).abs() / ulp;
            worst = worst.max(err);
        }
        assert!(worst <= 1.0, "worst error {worst} ulp");
        assert_eq!(Scalar::tanh(f32::INFINITY), 1.0);
        assert_eq!(Scalar::tanh(f32::NEG_INFINITY), -1.0);
        assert_eq!(Scalar::tanh(-0.0f32).to_bits(), (-0.0f32).to_bits());
        assert_eq!(Scalar::tanh(1e-30f32), 1e-30);
        assert!(Scalar::tanh(f32::NAN).is_nan());
    }
}
