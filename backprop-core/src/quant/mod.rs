//! int8 quantized inference for dense layers: weights `i8` per output channel, activations `i8`
//! with a scale and a zero point, accumulators `i32`, requantization by a fixed-point multiplier,
//! as TensorFlow Lite Micro does, and an inference path ([`QDense::forward`]) with no
//! floating-point operation at all, for cores without an FPU.
//!
//! Quantization ([`QDense::quantize`], [`QParams`], [`Range`]) runs once, on the host or at start
//! up, in `f64` with `libm` (so its integers are the same on every target); it needs the ranges of
//! each layer's pre-activation `z` and activation `a` over calibration data.
//!
//! ```
//! use backprop_core::quant::{QDense, QParams, Range};
//! use backprop_core::{Dense, Relu, Sigmoid};
//!
//! let hidden = Dense::new([[0.5f64, -1.0], [2.0, 0.25]], [0.1, -0.2]);
//! let output = Dense::new([[1.0f64, -1.5]], [0.05]);
//! // Calibration: the float forward pass over the calibration inputs, recording ranges.
//! let inputs = [[0.0, 1.0], [1.0, 0.0], [0.5, 0.5], [1.0, 1.0]];
//! let (mut x_range, mut z1, mut a1, mut z2, mut a2) = (Range::EMPTY, Range::EMPTY, Range::EMPTY, Range::EMPTY, Range::EMPTY);
//! for x in &inputs {
//!     x_range.include(x);
//!     let (mut z, mut a) = ([0.0; 2], [0.0; 2]);
//!     hidden.affine(x, &mut z);
//!     a.iter_mut().zip(&z).for_each(|(a, z)| *a = z.max(0.0));
//!     z1.include(&z);
//!     a1.include(&a);
//!     let mut zo = [0.0; 1];
//!     output.affine(&a, &mut zo);
//!     z2.include(&zo);
//!     a2.include(&[1.0 / (1.0 + (-zo[0]).exp())]);
//! }
//! let input = QParams::from_range(x_range);
//! let q1 = QDense::quantize::<f64, Relu>(&hidden, input, z1, a1)?;
//! let q2 = QDense::quantize::<f64, Sigmoid>(&output, q1.output, z2, a2)?;
//! assert_eq!(q2.output, QParams::SIGMOID);
//!
//! // Integer-only inference.
//! let y = q2.forward(&q1.forward(&input.quantize_all(&[1.0f64, 0.0])));
//! let p = q2.output.dequantize(y[0]);
//! let exact = 1.0 / (1.0 + (-(0.6 - 1.5 * 1.8 + 0.05f64)).exp()); // a1 = [0.6, 1.8]
//! assert!((p - exact).abs() < 0.02, "{p} vs {exact}");
//! # Ok::<(), backprop_core::quant::QuantError>(())
//! ```
//!
//! # The arithmetic, exactly (spec v1)
//!
//! This is the contract: an independent numpy reference (`tests/reference/quant_ref.py`) follows
//! the same text, and the two agree bit for bit on every integer. `round` is round half away from
//! zero (C `round`, `libm::round`) in `f64`; `clamp(x, lo, hi)`; integer division truncates toward
//! zero unless said otherwise. Everything float is `f64`.
//!
//! ## Quantization parameters of a tensor (activations: asymmetric int8)
//!
//! [`QParams`] `{ scale, zero_point }`: `real = scale * (q - zero_point)`, `q` in `[-128, 127]`.
//! From a calibrated range `[lo, hi]` (min and max seen), [`QParams::from_range`]:
//! - `lo = min(lo, 0.0)`; `hi = max(hi, 0.0)` (the range always contains 0);
//! - `scale = (hi - lo) / 255.0`; if `scale == 0.0` then `scale = 1.0`;
//! - `zero_point = clamp(round(-128.0 - lo / scale), -128, 127)`.
//!
//! Quantize a real `x` ([`QParams::quantize`]): `q = clamp(round(x / scale) + zero_point, -128,
//! 127)` (`round(x / scale)` in `f64`, converted to an integer, then `zero_point` added, then
//! clamped). Fixed output parameters (as TensorFlow Lite): Sigmoid output scale `1/256`, zero
//! point `-128`; Tanh output scale `1/128`, zero point `0`; Softmax output scale `1/256`, zero point
//! `-128` ([`QParams::SIGMOID`], [`QParams::TANH`], [`QParams::SOFTMAX`]).
//!
//! ## Calibration (min/max over calibration inputs; forward passes in `f64`)
//!
//! For a network whose float parameters are `f64` (or converted exactly to `f64`), run the float
//! forward pass on every calibration input, and record ([`Range::include`]):
//! - the network input range: min and max over every element of every calibration input;
//! - per layer, the range of `z = W x + b` (pre-activation) and of `a = f(z)` (post-activation),
//!   min and max over all neurons and all calibration inputs.
//!
//! (Implementations may compute `z` with different summation orders; ranges then agree to about
//! `1e-15` relative, which is far from changing any integer below except at exact ties.)
//!
//! ## A dense layer with `I` inputs and `O` outputs ([`QDense::quantize`])
//!
//! Inputs: the float `W` (`O` rows of `I`) and `b` (`O`); the input params `in` (the network input
//! params for the first layer, else the previous layer's output params); the `z` range and `a`
//! range from calibration.
//! - z params `zq` = [`QParams::from_range`] of the z range. Output params `out`:
//!   - Identity: `out = zq` (`a = z`).
//!   - Relu: `out` = params from the a range (`lo = 0` always, so `zero_point = -128`; when the
//!     range is `[0, 0]`, `scale = 1.0` and `zero_point = -128`).
//!   - Sigmoid, Tanh, Softmax: the fixed output parameters above.
//!   - Any other elementwise activation (LeakyRelu, Softplus, a user's): `out` = params from the a
//!     range.
//! - For Relu, the *requantize target* is `out` (the dense output is requantized straight to
//!   `out`, then clamped below at `max(-128, out.zero_point)`). For Identity, the target is
//!   `zq = out`. For every table activation and for Softmax, the target is `zq` (`z` is
//!   requantized to int8 with `zq`, then mapped through a table).
//! - Weights, symmetric per output channel: `s_w[o] = max_i |W[o][i]| / 127.0`; if that is `0.0`
//!   then `s_w[o] = 1.0`. `w_q[o][i] = clamp(round(W[o][i] / s_w[o]), -127, 127)` (int8).
//! - Bias: `b_q[o] = clamp(round(b[o] / (in.scale * s_w[o])), -2^31, 2^31 - 1)` (int32; the
//!   product `in.scale * s_w[o]` computed first, in `f64`).
//! - Multiplier: `m[o] = (in.scale * s_w[o]) / target.scale` (in that order), then
//!   `(multiplier[o], shift[o]) =` [`quantize_multiplier`](arith::quantize_multiplier)`(m[o])`:
//!   - if `m == 0.0`: `(0, 0)`;
//!   - `(q, e) = frexp(m)`: `m = q * 2^e` with `q` in `[0.5, 1)`;
//!   - `q_fixed = round(q * 2^31)` (as `i64`); if `q_fixed == 2^31` { `q_fixed = q_fixed / 2;
//!     e = e + 1` };
//!   - if `e < -31` { `q_fixed = 0; e = 0` }; if `e > 30` { `e = 30; q_fixed = 2^31 - 1` };
//!   - `multiplier = q_fixed` (`i32`), `shift = e` (`i32`; positive = left shift).
//! - Forward ([`QDense::forward`]), per output `o` (all `i32`):
//!   - `acc = b_q[o] + sum_i w_q[o][i] * (x[i] - in.zero_point)`
//!   - `acc = multiply_by_quantized_multiplier(acc, multiplier[o], shift[o])`
//!   - `acc = acc + target.zero_point`
//!   - Identity: `y = clamp(acc, -128, 127)`;
//!   - Relu: `y = clamp(acc, max(-128, out.zero_point), 127)`;
//!   - table activation: `y = table[clamp(acc, -128, 127) + 128]`;
//!   - Softmax: `z_q[o] = clamp(acc, -128, 127)` for all `o`, then the softmax below.
//!
//! Wrapping is impossible for `I <= 65536` unless `|b_q[o]|` is within `I · 127 · 255` of `2^31`
//! (a bias some `2^31` times the input step); this implementation wraps there, as `i32`
//! arithmetic in C does, and never panics.
//!
//! ## gemmlowp / TensorFlow Lite Micro integer primitives (double rounding), module [`arith`]
//!
//! - `saturating_rounding_doubling_high_mul(a, b)`: if `a == b == i32::MIN` return `i32::MAX`;
//!   `ab = (a as i64) * (b as i64)`; `nudge = if ab >= 0 { 1 << 30 } else { 1 - (1 << 30) }`;
//!   return `((ab + nudge) / (1 << 31)) as i32`, the division truncating toward zero.
//! - `rounding_divide_by_pot(x, exponent)`, `exponent` in `0..=31`: `mask = (1 << exponent) - 1`;
//!   `remainder = x & mask`; `threshold = (mask >> 1) + (if x < 0 { 1 } else { 0 })`; return
//!   `(x >> exponent) + (if remainder > threshold { 1 } else { 0 })`, `>>` arithmetic.
//! - `multiply_by_quantized_multiplier(x, multiplier, shift)`: `left = max(shift, 0)`;
//!   `right = max(-shift, 0)`; return `rounding_divide_by_pot(saturating_rounding_doubling_high_mul(
//!   x.wrapping_mul(1 << left), multiplier), right)`.
//!
//! ## Tables (computed at quantization time, in `f64`)
//!
//! For an elementwise activation `f` with z params `zq` and output params `out`: for `q` in
//! `-128..=127`, `z = zq.scale * (q - zq.zero_point)`, `a = f(z)`,
//! `table[q + 128] = clamp(round(a / out.scale) + out.zero_point, -128, 127)`.
//! `f`: Sigmoid `1 / (1 + exp(-z))`; Tanh `tanh(z)`; LeakyRelu `z` if `z > 0` else `0.01 * z`;
//! Softplus `max(z, 0) + log1p(exp(-|z|))` (all with `libm`); any other activation `A` through
//! `A::forward::<f64, 1>`.
//!
//! ## Softmax (integer, with a table of exponentials)
//!
//! At quantization time, with `zq` the z params of the softmax layer:
//! `exp_table[d] = round(65536.0 * exp(-zq.scale * d)) as u32`, for `d` in `0..=255`
//! (`exp_table[0] = 65536`). At inference, from the `O` int8 values `z_q`:
//! `m = max_o z_q[o]`; `d_o = m - z_q[o]` (in `0..=255`); `e_o = exp_table[d_o]`;
//! `sum = sum_o e_o` (`u64`); `y_o = clamp(floor((e_o * 256 + sum / 2) / sum) - 128, -128, 127)`
//! (integer `u64` arithmetic; `sum / 2` floors). Output params: scale `1/256`, zero point `-128`.
//!
//! Error bound: each `y_o` dequantized is within `1/256 + 2^-16 ≈ 0.0040` of the softmax of the
//! dequantized `z_q` (table rounding `<= 0.5/65536` relative; final rounding `<= 0.5/256`
//! absolute; the saturation at 127 means a probability of 1 is reported as 255/256).
//!
//! ## Whole network
//!
//! Input params from the calibration input range; layer `k`'s `in` is layer `k - 1`'s `out`.
//! Quantized forward: `x_q = quantize(x)` with the input params, then every layer's forward in
//! order. The output is int8 with the last layer's output params.
//!
//! # Which TensorFlow Lite path this matches
//!
//! The requantization is the integer path of TensorFlow Lite Micro's kernels (gemmlowp double
//! rounding, per-channel multipliers); TensorFlow Lite's reference `FullyConnected` kernel
//! requantizes in `double` instead and differs by one step on about 1 output in 1,000. Tables
//! for the logistic and tanh are built in `f64` here (TensorFlow Lite builds them in `f32`), and
//! the softmax is a table of exponentials, not gemmlowp's fixed-point `exp`: both can differ
//! from TensorFlow Lite by a step.

pub mod arith;
mod dense;
mod tables;
// Integer arithmetic over many inputs, no `unsafe`: minutes under Miri, which checks the
// crate's `unsafe` code (the flat parameter views) instead.
#[cfg(all(test, not(miri)))]
mod tests;

use core::fmt;

use crate::Scalar;

pub use dense::{QActivation, QDense};

/// The quantization parameters of an int8 tensor: `real = scale · (q - zero_point)`.
///
/// ```
/// use backprop_core::quant::{QParams, Range};
/// let p = QParams::from_range(Range { lo: -1.0, hi: 3.0 });
/// assert_eq!(p, QParams { scale: 4.0 / 255.0, zero_point: -64 });
/// assert_eq!(p.quantize(0.0), -64); // zero is exact
/// assert_eq!(p.quantize(3.0), 127);
/// assert_eq!(p.quantize(-5.0), -128); // clamped
/// assert_eq!(p.dequantize(-64), 0.0);
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct QParams {
    /// The real value of one step.
    pub scale: f64,
    /// The integer that stands for `0.0` (in `-128..=127` for parameters made here).
    pub zero_point: i32,
}

impl QParams {
    /// A sigmoid layer's output: `[0, 1)` in steps of `1/256` (as TensorFlow Lite).
    pub const SIGMOID: Self = Self { scale: 1.0 / 256.0, zero_point: -128 };
    /// A tanh layer's output: `[-1, 1)` in steps of `1/128` (as TensorFlow Lite).
    pub const TANH: Self = Self { scale: 1.0 / 128.0, zero_point: 0 };
    /// A softmax layer's output: `[0, 1)` in steps of `1/256` (as TensorFlow Lite).
    pub const SOFTMAX: Self = Self { scale: 1.0 / 256.0, zero_point: -128 };

    /// The parameters that cover a calibrated range, widened to contain `0.0` (see the
    /// [module documentation](self)). An empty range, or `[0, 0]`, gives `{ scale: 1.0,
    /// zero_point: -128 }`. A non-finite bound gives a non-finite scale, which
    /// [`QDense::quantize`] refuses.
    ///
    /// ```
    /// use backprop_core::quant::{QParams, Range};
    /// assert_eq!(QParams::from_range(Range { lo: 0.0, hi: 255.0 }), QParams { scale: 1.0, zero_point: -128 });
    /// assert_eq!(QParams::from_range(Range::EMPTY), QParams { scale: 1.0, zero_point: -128 });
    /// assert_eq!(QParams::from_range(Range { lo: -2.0, hi: -1.0 }).zero_point, 127);
    /// ```
    pub fn from_range(range: Range) -> Self {
        let lo = range.lo.min(0.0);
        let hi = range.hi.max(0.0);
        let mut scale = (hi - lo) / 255.0;
        if scale == 0.0 {
            scale = 1.0;
        }
        Self { scale, zero_point: round_clamp(-128.0 - lo / scale, -128, 127) }
    }

    /// `clamp(round(x / scale) + zero_point, -128, 127)`. NaN quantizes to the zero point.
    ///
    /// ```
    /// use backprop_core::quant::QParams;
    /// assert_eq!(QParams::SIGMOID.quantize(0.5), 0);
    /// assert_eq!(QParams::SIGMOID.quantize(1.0), 127); // saturates: 1 is 255/256
    /// assert_eq!(QParams::TANH.quantize(-0.5 / 128.0), -1); // ties away from zero
    /// ```
    pub fn quantize(&self, x: f64) -> i8 {
        // `as i64` saturates (NaN → 0), which the clamp then makes exact.
        let q = (libm::round(x / self.scale) as i64).saturating_add(i64::from(self.zero_point));
        q.clamp(-128, 127) as i8
    }

    /// `scale · (q - zero_point)`.
    ///
    /// ```
    /// use backprop_core::quant::QParams;
    /// assert_eq!(QParams::TANH.dequantize(-128), -1.0);
    /// assert_eq!(QParams::SOFTMAX.dequantize(127), 255.0 / 256.0);
    /// ```
    pub fn dequantize(&self, q: i8) -> f64 {
        self.scale * (i64::from(q) - i64::from(self.zero_point)) as f64
    }

    /// [`quantize`](Self::quantize) on each element (converted to `f64` exactly).
    ///
    /// ```
    /// use backprop_core::quant::QParams;
    /// assert_eq!(QParams::TANH.quantize_all(&[0.5f32, -1.0, 2.0]), [64, -128, 127]);
    /// ```
    pub fn quantize_all<T: Scalar, const N: usize>(&self, x: &[T; N]) -> [i8; N] {
        let mut q = [0; N];
        for (q, &x) in q.iter_mut().zip(x) {
            *q = self.quantize(x.to_f64());
        }
        q
    }

    /// [`dequantize`](Self::dequantize) on each element.
    ///
    /// ```
    /// use backprop_core::quant::QParams;
    /// assert_eq!(QParams::TANH.dequantize_all(&[64, -128]), [0.5, -1.0]);
    /// ```
    pub fn dequantize_all<const N: usize>(&self, q: &[i8; N]) -> [f64; N] {
        let mut x = [0.0; N];
        for (x, &q) in x.iter_mut().zip(q) {
            *x = self.dequantize(q);
        }
        x
    }

    /// Finite, positive scale and a zero point in `-128..=127`.
    fn is_valid(&self) -> bool {
        self.scale.is_finite() && self.scale > 0.0 && (-128..=127).contains(&self.zero_point)
    }
}

/// `clamp(round(x), lo, hi)` as an integer (NaN → 0, then clamped).
#[inline]
pub(crate) fn round_clamp(x: f64, lo: i64, hi: i64) -> i32 {
    (libm::round(x) as i64).clamp(lo, hi) as i32
}

/// The range `[lo, hi]` of values seen in calibration: min and max.
///
/// ```
/// use backprop_core::quant::Range;
/// let mut r = Range::EMPTY;
/// assert!(r.is_empty());
/// r.include(&[0.5f32, -2.0]);
/// r.include(&[1.5f64]);
/// assert_eq!(r, Range { lo: -2.0, hi: 1.5 });
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Range {
    /// The least value seen.
    pub lo: f64,
    /// The greatest value seen.
    pub hi: f64,
}

impl Range {
    /// No value seen yet: `lo = +∞`, `hi = -∞`.
    pub const EMPTY: Self = Self { lo: f64::INFINITY, hi: f64::NEG_INFINITY };

    /// Widens the range to contain every value. A NaN makes both bounds NaN (and stays), so that
    /// [`QDense::quantize`] reports it rather than skipping it.
    ///
    /// ```
    /// use backprop_core::quant::Range;
    /// let mut r = Range::EMPTY;
    /// r.include(&[1.0f64, f64::NAN, 2.0]);
    /// assert!(r.lo.is_nan() && r.hi.is_nan());
    /// ```
    pub fn include<T: Scalar>(&mut self, values: &[T]) {
        for v in values {
            let v = v.to_f64();
            if v.is_nan() {
                self.lo = f64::NAN;
                self.hi = f64::NAN;
            }
            // Comparisons with a NaN bound are false: it stays NaN.
            if v < self.lo {
                self.lo = v;
            }
            if v > self.hi {
                self.hi = v;
            }
        }
    }

    /// `true` while no value has been included (`lo > hi`).
    ///
    /// ```
    /// use backprop_core::quant::Range;
    /// assert!(Range::EMPTY.is_empty());
    /// assert!(!Range { lo: 0.0, hi: 0.0 }.is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.lo > self.hi
    }
}

/// Why a float layer could not be quantized.
///
/// ```
/// use backprop_core::quant::{QDense, QParams, QuantError, Range};
/// use backprop_core::{Dense, Identity};
/// let layer = Dense::new([[1.0f64]], [0.0]);
/// let input = QParams { scale: 0.01, zero_point: 0 };
/// let err = QDense::quantize::<f64, Identity>(&layer, input, Range::EMPTY, Range::EMPTY).unwrap_err();
/// assert_eq!(err, QuantError::EmptyRange { what: "z" });
/// assert_eq!(err.to_string(), "the z range is empty: no calibration value was recorded");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum QuantError {
    /// A calibration range that no value was included in.
    EmptyRange {
        /// `"z"` (pre-activation) or `"a"` (activation).
        what: &'static str,
    },
    /// A calibration range with an infinite or NaN bound.
    NonFiniteRange {
        /// `"z"` or `"a"`.
        what: &'static str,
    },
    /// A weight or bias of the float layer is infinite or NaN.
    NonFiniteParam {
        /// `"weight"` or `"bias"`.
        what: &'static str,
        /// The output neuron (row).
        row: usize,
        /// The input (column) for a weight, `0` for a bias.
        column: usize,
    },
    /// Quantization parameters with a scale that is not finite and positive, or a zero point
    /// outside `-128..=127`: the input's as given, or the z or a parameters computed from a range
    /// too wide for `f64`.
    InvalidParams {
        /// `"input"`, `"z"` or `"a"`.
        what: &'static str,
    },
}

impl fmt::Display for QuantError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::EmptyRange { what } => {
                write!(f, "the {what} range is empty: no calibration value was recorded")
            }
            Self::NonFiniteRange { what } => write!(f, "the {what} range has an infinite or NaN bound"),
            Self::NonFiniteParam { what, row, column } => {
                write!(f, "{what} [{row}][{column}] is infinite or NaN")
            }
            Self::InvalidParams { what } => write!(
                f,
                "the {what} quantization parameters need a finite positive scale and a zero point in -128..=127"
            ),
        }
    }
}

impl core::error::Error for QuantError {}
