//! Fixed-point numbers: [`I16F16`], a [`Scalar`] for cores without a floating-point unit.
//!
//! A network of `I16F16` trains and infers in integer arithmetic only: on a Cortex-M0 (no FPU)
//! its forward pass, backward pass and SGD or momentum step link no soft-float routine, where
//! every multiply of an `f32` network is a call into one.
//!
//! # Why not the `fixed` crate
//!
//! [`Scalar`] is sealed, and needs more than arithmetic: `exp`, `ln`, `ln_1p`, `tanh` and `sqrt`
//! with stated error bounds, saturation that the training checks can see (`is_finite`), and the
//! constants the losses rely on. The `fixed` crate provides the number formats and arithmetic, but
//! no `exp`, `ln` or `tanh`; those would have been written here anyway, on top of a dependency (and
//! its own dependencies) that the crate, so far depending on `libm` only, does not otherwise need.
//! The format is a few dozen lines; the functions are in `math.rs`, each tested exhaustively.
//!
//! # Arithmetic and overflow
//!
//! | operation | result |
//! |---|---|
//! | `+`, `-`, unary `-` | exact, saturating at [`I16F16::MAX`] and [`I16F16::MIN`] |
//! | `*` | the 64-bit product shifted right by 16, rounded to nearest, ties to even; saturating |
//! | `/` | `(a << 16) / b` in 64 bits, rounded to nearest, ties to even; saturating; `x / 0` is `MAX` for `x > 0`, `MIN` for `x < 0`, and `0 / 0 = 0` |
//!
//! Ties to even, as IEEE 754 rounds: rounding is unbiased, so the many small products of a
//! training run do not drift in one direction. Nothing panics and nothing wraps: an overflow shows
//! as a saturated value, `MAX` or `MIN`, for which [`Scalar::is_finite`] is `false`. So the checks
//! the crate makes for floating-point overflow and NaN (the [`Trainer`](crate::Trainer)'s
//! divergence check, the optimizers' `try_step`, serialisation's refusal of non-finite
//! parameters) catch a fixed-point overflow as they catch an `f32` infinity.
//!
//! [`Scalar::INFINITY`] is `MAX` (the saturation value, `32767.99998`) and `-INFINITY` is
//! `-MAX`, one ulp above `MIN`. [`Scalar::EPSILON`] and [`Scalar::MIN_POSITIVE`] are both one
//! ulp, `2⁻¹⁶`: there are no subnormals, and the relative resolution shrinks towards zero, so the
//! tricks the losses play for floating-point accuracy become no-ops (see [`loss`](crate::loss):
//! the two-sum of `exp_of_difference` yields an exact zero correction, as `z - m` is exact unless
//! it saturates, and then `e^(z - m)` is `0` anyway).
//!
//! # Functions
//!
//! In integer arithmetic only (see `math.rs`), each rounded to nearest once at the end; the
//! errors below are measured against `f64` (`libm`) over all `2³²` inputs, in ulps of `2⁻¹⁶`:
//!
//! | function | algorithm | domain and saturation | max error (all 2³² inputs) |
//! |---|---|---|---|
//! | `exp` | `x = k ln 2 + r`, degree-11 Taylor polynomial of `e^r` in Q62 (`i128` products) | `0` below `-12`; `MAX` from `ln 32768 ≈ 10.397` | 0.500000 ulp |
//! | `ln` | `x = 2^e f`, `f ∈ [√½, √2)`, `2 atanh((f-1)/(f+1))` to `s¹³` in Q32 | `MIN` for `x ≤ 0` | 0.500075 ulp |
//! | `ln_1p` | `ln` of the exact sum `1 + x` (in 64 bits) | `MIN` for `x ≤ -1` | 0.500075 ulp |
//! | `tanh` | `(1 - e) / (1 + e)`, `e = e^(-2|x|)` in Q32 | `±1` from `|x| ≥ 7` | 0.500013 ulp |
//! | `sqrt` | bit-by-bit integer square root of `bits · 2¹⁶`, rounded | `0` for `x ≤ 0` | 0.500000 ulp (correctly rounded) |
//!
//! Half an ulp is the rounding of the result; the rest, below `10⁻⁴` ulp, is the intermediate
//! error. The ordinary tests check every input of `exp`'s and `tanh`'s unsaturated domains, of
//! `ln` below 64 and of `sqrt` below 16, and a strided sample of the whole domain, against a
//! bound of 0.5005 ulp. The maxima in the table come from one sweep of all `2³²` inputs of every
//! function (6 minutes in release on an AMD EPYC; see the commit that added this module), too
//! slow to repeat in every test run.
//!
//! ```
//! use backprop_core::{I16F16, Scalar};
//! let x = I16F16::from_f64(1.5);
//! assert_eq!(x.to_bits(), 3 << 15);
//! assert_eq!((x * x).to_f64(), 2.25);
//! assert_eq!(I16F16::MAX + I16F16::ONE, I16F16::MAX); // saturates
//! assert!(!(I16F16::MAX + I16F16::ONE).is_finite());
//! assert!((I16F16::ONE.exp().to_f64() - core::f64::consts::E).abs() <= 0.5 / 65536.0);
//! ```

use core::fmt;
use core::ops::{Add, AddAssign, Div, DivAssign, Mul, MulAssign, Neg, Sub, SubAssign};

use crate::Scalar;

mod math;
// Integer arithmetic over many inputs, no `unsafe`: minutes under Miri, which checks the
// crate's `unsafe` code (the flat parameter views) instead.
#[cfg(all(test, not(miri)))]
mod tests;

/// A signed fixed-point number with 16 integer and 16 fractional bits (Q16.16): the value is
/// `bits / 65536`, from `-32768` to `32767.99998` in steps of `2⁻¹⁶ ≈ 1.5e-5`.
///
/// A [`Scalar`]: a network declared with `network!` computes in it as `Net<I16F16>`. See the
/// [module](self) for the arithmetic, the overflow behaviour and the functions' error bounds.
///
/// ```
/// use backprop_core::{I16F16, Scalar};
/// let a = I16F16::from_f64(0.75);
/// let b = I16F16::from_bits(-2 << 16);
/// assert_eq!((a * b).to_f64(), -1.5);
/// assert_eq!((a / b).to_f64(), -0.375);
/// assert_eq!(I16F16::ONE / I16F16::ZERO, I16F16::MAX);
/// assert_eq!(format!("{}", a + b), "-1.25");
/// ```
#[derive(Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(transparent)]
pub struct I16F16(i32);

impl I16F16 {
    /// The largest value, `32767.99998` (`i32::MAX` bits): the saturation value of every
    /// overflow upwards, and [`Scalar::INFINITY`].
    ///
    /// ```
    /// use backprop_core::I16F16;
    /// assert_eq!(I16F16::MAX.to_bits(), i32::MAX);
    /// ```
    pub const MAX: Self = Self(i32::MAX);
    /// The smallest value, `-32768` (`i32::MIN` bits): the saturation value of every overflow
    /// downwards.
    ///
    /// ```
    /// use backprop_core::I16F16;
    /// assert_eq!(-I16F16::MIN, I16F16::MAX); // saturates
    /// ```
    pub const MIN: Self = Self(i32::MIN);

    /// The number whose bits are `bits`: the value `bits / 65536`.
    ///
    /// ```
    /// use backprop_core::{I16F16, Scalar};
    /// assert_eq!(I16F16::from_bits(1 << 16), I16F16::ONE);
    /// ```
    #[inline(always)]
    pub const fn from_bits(bits: i32) -> Self {
        Self(bits)
    }

    /// The bits: `65536 ·` the value.
    ///
    /// ```
    /// use backprop_core::{I16F16, Scalar};
    /// assert_eq!(I16F16::HALF.to_bits(), 32768);
    /// ```
    #[inline(always)]
    pub const fn to_bits(self) -> i32 {
        self.0
    }
}

/// `q` saturated to the `i32` range.
#[inline(always)]
fn saturate(q: i64) -> I16F16 {
    I16F16(q.clamp(i64::from(i32::MIN), i64::from(i32::MAX)) as i32)
}

impl Add for I16F16 {
    type Output = Self;
    #[inline(always)]
    fn add(self, rhs: Self) -> Self {
        Self(self.0.saturating_add(rhs.0))
    }
}

impl Sub for I16F16 {
    type Output = Self;
    #[inline(always)]
    fn sub(self, rhs: Self) -> Self {
        Self(self.0.saturating_sub(rhs.0))
    }
}

impl Neg for I16F16 {
    type Output = Self;
    #[inline(always)]
    fn neg(self) -> Self {
        Self(self.0.saturating_neg())
    }
}

impl Mul for I16F16 {
    type Output = Self;
    /// `a · b`, rounded to nearest (ties to even) and saturated.
    #[inline(always)]
    fn mul(self, rhs: Self) -> Self {
        let p = i64::from(self.0).wrapping_mul(i64::from(rhs.0));
        // Ties to even without a branch: adding 2^15 - 1 plus the kept part's lowest bit carries
        // into bit 16 exactly when the dropped part is above a half, or a half and the bit is 1.
        // (No overflow: |p| ≤ 2^62.)
        saturate(p.wrapping_add(0x7fff + ((p >> 16) & 1)) >> 16)
    }
}

impl Div for I16F16 {
    type Output = Self;
    /// `a / b`, rounded to nearest (ties to even) and saturated; `x / 0` saturates by the sign
    /// of `x`, `0 / 0 = 0`.
    #[inline]
    fn div(self, rhs: Self) -> Self {
        if rhs.0 == 0 {
            return Self(match self.0 {
                0 => 0,
                a if a > 0 => i32::MAX,
                _ => i32::MIN,
            });
        }
        let (n, d) = (i64::from(self.0) << 16, i64::from(rhs.0));
        let q = n.checked_div(d).unwrap_or(0);
        let r = n.checked_rem(d).unwrap_or(0);
        let (twice, magnitude) = (r.unsigned_abs().wrapping_mul(2), d.unsigned_abs());
        let up = twice > magnitude || (twice == magnitude && q & 1 != 0);
        saturate(match (up, (n < 0) != (d < 0)) {
            (false, _) => q,
            (true, false) => q.wrapping_add(1), // |q| ≤ 2^47: no overflow
            (true, true) => q.wrapping_sub(1),
        })
    }
}

macro_rules! assign {
    ($trait:ident, $method:ident, $op:tt) => {
        impl $trait for I16F16 {
            #[inline(always)]
            fn $method(&mut self, rhs: Self) {
                *self = *self $op rhs;
            }
        }
    };
}
assign!(AddAssign, add_assign, +);
assign!(SubAssign, sub_assign, -);
assign!(MulAssign, mul_assign, *);
assign!(DivAssign, div_assign, /);

/// `10^i` for `i = 0..=16`.
const POW10: [u64; 17] = {
    let mut t = [1u64; 17];
    let mut i = 1;
    while i < 17 {
        t[i] = t[i - 1] * 10;
        i += 1;
    }
    t
};

/// The exact decimal value (at most 16 fractional digits: `2⁻¹⁶ = 0.0000152587890625`), or, with
/// a precision, rounded to that many digits (ties to even).
impl fmt::Display for I16F16 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let magnitude = i64::from(self.0).unsigned_abs();
        let mut int = magnitude >> 16;
        // The fraction times 10^16: frac / 2^16 = frac · 5^16 / 10^16.
        let mut frac = (magnitude & 0xffff) * 152_587_890_625;
        let mut digits = 16usize;
        if let Some(p) = f.precision() {
            let p = p.min(16);
            let scale = POW10.get(16 - p).copied().unwrap_or(1);
            let (q, r) = (frac.checked_div(scale).unwrap_or(0), frac.checked_rem(scale).unwrap_or(0));
            let up = r * 2 > scale || (r * 2 == scale && q & 1 != 0);
            frac = q + u64::from(up);
            digits = p;
            if let Some(&limit) = POW10.get(p)
                && frac >= limit
            {
                frac -= limit;
                int += 1;
            }
        }
        let mut buf = [0u8; 40];
        let mut len = 0;
        let mut push = |b: u8| {
            if let Some(slot) = buf.get_mut(len) {
                *slot = b;
                len += 1;
            }
        };
        let mut int_digits = [0u8; 6];
        let mut n = 0;
        loop {
            if let Some(slot) = int_digits.get_mut(n) {
                *slot = b'0' + (int % 10) as u8;
            }
            n += 1;
            int /= 10;
            if int == 0 || n >= int_digits.len() {
                break;
            }
        }
        for &d in int_digits.iter().take(n).rev() {
            push(d);
        }
        if f.precision().is_none() {
            while digits > 0 && frac % 10 == 0 {
                frac /= 10;
                digits -= 1;
            }
        }
        if digits > 0 {
            push(b'.');
            let mut frac_digits = [b'0'; 16];
            for slot in frac_digits.iter_mut().take(digits).rev() {
                *slot = b'0' + (frac % 10) as u8;
                frac /= 10;
            }
            for &d in frac_digits.iter().take(digits) {
                push(d);
            }
        }
        f.pad_integral(
            self.0 >= 0,
            "",
            core::str::from_utf8(buf.get(..len).unwrap_or_default()).unwrap_or_default(),
        )
    }
}

/// As [`Display`](fmt::Display): the decimal value.
impl fmt::Debug for I16F16 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl Scalar for I16F16 {
    const ZERO: Self = Self(0);
    const ONE: Self = Self(1 << 16);
    const HALF: Self = Self(1 << 15);
    /// One ulp, `2⁻¹⁶`.
    const EPSILON: Self = Self(1);
    /// [`I16F16::MAX`], the saturation value.
    const INFINITY: Self = Self::MAX;
    /// One ulp, `2⁻¹⁶`: there are no subnormals.
    const MIN_POSITIVE: Self = Self(1);
    const NAME: &'static str = "I16F16";
    /// `0x51` (`'Q'`): serialised as the raw bits, 4 bytes each.
    const TAG: u8 = 0x51;

    /// Rounded to nearest (ties to even) and saturated; NaN is `0`.
    #[inline]
    fn from_f64(x: f64) -> Self {
        // `as` saturates and maps NaN to 0; the scaling by 2^16 is exact.
        Self(libm::rint(x * 65536.0) as i32)
    }
    #[inline]
    fn to_f64(self) -> f64 {
        f64::from(self.0) / 65536.0
    }
    #[inline]
    fn exp(self) -> Self {
        Self(math::exp(self.0))
    }
    /// `MIN` (saturated) for `x ≤ 0`.
    #[inline]
    fn ln(self) -> Self {
        Self(if self.0 <= 0 { i32::MIN } else { math::ln_of(self.0 as u64) })
    }
    /// `MIN` (saturated) for `x ≤ -1`.
    #[inline]
    fn ln_1p(self) -> Self {
        let sum = i64::from(self.0).wrapping_add(1 << 16);
        Self(if sum <= 0 { i32::MIN } else { math::ln_of(sum as u64) })
    }
    #[inline]
    fn tanh(self) -> Self {
        Self(math::tanh(self.0))
    }
    /// `0` for `x ≤ 0`.
    #[inline]
    fn sqrt(self) -> Self {
        Self(math::sqrt(self.0))
    }
    #[inline(always)]
    fn abs(self) -> Self {
        Self(self.0.saturating_abs())
    }
    /// `false` for the saturated values `MAX` and `MIN`.
    #[inline(always)]
    fn is_finite(self) -> bool {
        self.0 != i32::MAX && self.0 != i32::MIN
    }
    #[inline(always)]
    fn max(self, other: Self) -> Self {
        Ord::max(self, other)
    }
    #[inline(always)]
    fn min(self, other: Self) -> Self {
        Ord::min(self, other)
    }
}
