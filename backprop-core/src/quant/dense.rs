//! A quantized dense layer: int8 weights per output channel, int32 biases, fixed-point
//! requantization and an integer activation.

use super::arith::{multiply_by_quantized_multiplier, quantize_multiplier};
use super::{QParams, QuantError, Range, round_clamp, tables};
use crate::activation::Activation;
use crate::{Dense, Scalar};

/// The activation of a [`QDense`], on int8 values.
///
/// ```
/// use backprop_core::quant::{QActivation, QDense, QParams, Range};
/// use backprop_core::{Dense, Relu, Tanh};
/// let layer = Dense::new([[1.0f64, -1.0]], [0.0]);
/// let input = QParams { scale: 1.0 / 64.0, zero_point: 0 };
/// let z = Range { lo: -2.0, hi: 2.0 };
/// let relu = QDense::quantize::<f64, Relu>(&layer, input, z, Range { lo: 0.0, hi: 2.0 })?;
/// assert_eq!(relu.activation, QActivation::Clamp { min: -128, max: 127 });
/// let tanh = QDense::quantize::<f64, Tanh>(&layer, input, z, z)?;
/// assert!(matches!(tanh.activation, QActivation::Table(_)));
/// # Ok::<(), backprop_core::quant::QuantError>(())
/// ```
// No allocator to box the tables: they live in the layer (in flash, for a layer in a `static`).
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum QActivation {
    /// Identity (`min = -128`) or ReLU (`min` = the output's zero point): the requantized value
    /// clamped to `min..=max`.
    Clamp {
        /// The least output.
        min: i8,
        /// The greatest output.
        max: i8,
    },
    /// An elementwise activation: `y = table[z_q + 128]`, `z_q` requantized with the z params.
    Table([i8; 256]),
    /// Softmax over the layer: `exp_table[d] = round(2¹⁶ e^(-scale_z · d))`, `d = max z_q - z_q`.
    Softmax([u32; 256]),
}

/// A dense layer quantized to int8: `y = act(requantize(W_q (x - zp_in) + b_q))`, computed in
/// integers only.
///
/// The requantize target is `output` for [`QActivation::Clamp`] (Identity, Relu) and `z` for
/// tables and softmax (see the [module documentation](super), which gives every step).
///
/// ```
/// use backprop_core::quant::{QDense, QParams, Range};
/// use backprop_core::{Dense, Identity};
/// let layer = Dense::new([[0.5f32, -0.25], [1.0, 1.0]], [0.1, 0.0]);
/// let input = QParams::from_range(Range { lo: -1.0, hi: 1.0 });
/// let z = Range { lo: -2.0, hi: 2.0 };
/// let q = QDense::quantize::<f32, Identity>(&layer, input, z, z)?;
/// assert_eq!(q.w, [[127, -64], [127, 127]]); // per-row scales: 0.5 / 127 and 1 / 127
/// let x = [0.8f32, -0.4];
/// let y = q.output.dequantize_all(&q.forward(&input.quantize_all(&x)));
/// assert!((y[0] - 0.6).abs() < 0.02 && (y[1] - 0.4).abs() < 0.02, "{y:?}");
/// # Ok::<(), backprop_core::quant::QuantError>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct QDense<const I: usize, const O: usize> {
    /// Weights `w_q[o][i] = round(W[o][i] / s_w[o])`, symmetric per output channel.
    pub w: [[i8; I]; O],
    /// Biases `round(b[o] / (s_in · s_w[o]))`.
    pub b: [i32; O],
    /// The Q31 multiplier of `s_in · s_w[o] / s_target` ([`quantize_multiplier`]).
    pub multiplier: [i32; O],
    /// Its shift (positive: left).
    pub shift: [i32; O],
    /// The parameters of the input.
    pub input: QParams,
    /// The parameters of the pre-activation `z` (equal to `output` for Identity).
    pub z: QParams,
    /// The parameters of the output.
    pub output: QParams,
    /// The activation.
    pub activation: QActivation,
}

impl<const I: usize, const O: usize> QDense<I, O> {
    /// Quantizes a float layer with activation `A`, given the parameters of its input and the
    /// calibrated ranges of its pre-activation `z` and activation `a` (see the
    /// [module documentation](super)).
    ///
    /// The activation is chosen by `A::NAME`: `"Identity"` and `"Relu"` clamp, `"Softmax"` is the
    /// integer softmax, and any other (`"Sigmoid"`, `"Tanh"`, `"LeakyRelu"`, `"Softplus"`, a
    /// user's [`Elementwise`](crate::Elementwise)) is a table, built from `libm` for the named
    /// ones and from `A::forward::<f64, 1>` for the others. The `a` range is used only by
    /// Relu and the activations without fixed output parameters (not by Identity, Sigmoid, Tanh,
    /// Softmax).
    ///
    /// # Errors
    ///
    /// [`QuantError::InvalidParams`] for `input` with a scale that is not finite and positive or a
    /// zero point outside `-128..=127`; [`QuantError::EmptyRange`] and
    /// [`QuantError::NonFiniteRange`] for a range that is used; [`QuantError::NonFiniteParam`]
    /// for a weight or bias that is infinite or NaN.
    ///
    /// ```
    /// use backprop_core::quant::{QActivation, QDense, QParams, Range};
    /// use backprop_core::{Dense, Softmax};
    /// let layer = Dense::new([[1.0f64, 0.0], [0.0, 1.0]], [0.0, 0.0]);
    /// let input = QParams::from_range(Range { lo: -4.0, hi: 4.0 });
    /// let q = QDense::quantize::<f64, Softmax>(&layer, input, Range { lo: -4.0, hi: 4.0 }, Range::EMPTY)?;
    /// assert_eq!(q.output, QParams::SOFTMAX);
    /// // Equal logits: one half each, 128/256.
    /// assert_eq!(q.forward(&input.quantize_all(&[1.0f64, 1.0])), [0, 0]);
    /// # Ok::<(), backprop_core::quant::QuantError>(())
    /// ```
    pub fn quantize<T: Scalar, A: Activation>(
        dense: &Dense<T, I, O>,
        input: QParams,
        z: Range,
        a: Range,
    ) -> Result<Self, QuantError> {
        if !input.is_valid() {
            return Err(QuantError::InvalidParams { what: "input" });
        }
        let zq = params(z, "z")?;
        let (output, activation) = match A::NAME {
            "Identity" => (zq, QActivation::Clamp { min: -128, max: 127 }),
            "Relu" => {
                let out = params(a, "a")?;
                let min = out.zero_point.clamp(-128, 127) as i8;
                (out, QActivation::Clamp { min, max: 127 })
            }
            "Softmax" => (QParams::SOFTMAX, QActivation::Softmax(tables::exp_table(zq))),
            name => {
                let out = match name {
                    "Sigmoid" => QParams::SIGMOID,
                    "Tanh" => QParams::TANH,
                    _ => params(a, "a")?,
                };
                (out, QActivation::Table(tables::table(zq, out, tables::activation_f64::<A>)))
            }
        };
        let target = match activation {
            QActivation::Clamp { .. } => output,
            QActivation::Table(_) | QActivation::Softmax(_) => zq,
        };

        let mut layer = Self {
            w: [[0; I]; O],
            b: [0; O],
            multiplier: [0; O],
            shift: [0; O],
            input,
            z: zq,
            output,
            activation,
        };
        let rows =
            layer.w.iter_mut().zip(layer.b.iter_mut()).zip(layer.multiplier.iter_mut().zip(&mut layer.shift));
        for (row, (((w_q, b_q), (multiplier, shift)), (w, &b))) in
            rows.zip(dense.w.iter().zip(&dense.b)).enumerate()
        {
            let mut max = 0.0f64;
            for (column, w) in w.iter().enumerate() {
                let w = w.to_f64();
                if !w.is_finite() {
                    return Err(QuantError::NonFiniteParam { what: "weight", row, column });
                }
                max = max.max(libm::fabs(w));
            }
            let b = b.to_f64();
            if !b.is_finite() {
                return Err(QuantError::NonFiniteParam { what: "bias", row, column: 0 });
            }
            let mut s_w = max / 127.0;
            if s_w == 0.0 {
                s_w = 1.0;
            }
            for (q, w) in w_q.iter_mut().zip(w) {
                *q = round_clamp(w.to_f64() / s_w, -127, 127) as i8;
            }
            let s_acc = input.scale * s_w;
            *b_q = round_clamp(b / s_acc, i32::MIN.into(), i32::MAX.into());
            (*multiplier, *shift) = quantize_multiplier(s_acc / target.scale);
        }
        Ok(layer)
    }

    /// Integer-only inference: `x` with the parameters [`input`](Self::input), the result with
    /// [`output`](Self::output).
    ///
    /// No floating-point operation is reachable from here (it links for cores without an FPU
    /// with no soft-float routine), and no panic, for any input and any field values.
    ///
    /// ```
    /// use backprop_core::quant::{QActivation, QDense, QParams};
    /// // Written out by hand: y = clamp(2 x0 - x1 + 3, ...) with a multiplier of exactly 1.
    /// let q = QDense::<2, 1> {
    ///     w: [[2, -1]],
    ///     b: [3],
    ///     multiplier: [1 << 30],
    ///     shift: [1],
    ///     input: QParams { scale: 0.1, zero_point: 0 },
    ///     z: QParams { scale: 0.1, zero_point: 0 },
    ///     output: QParams { scale: 0.1, zero_point: 0 },
    ///     activation: QActivation::Clamp { min: -128, max: 127 },
    /// };
    /// assert_eq!(q.forward(&[10, 5]), [18]);
    /// assert_eq!(q.forward(&[127, -128]), [127]); // saturates
    /// ```
    #[inline]
    pub fn forward(&self, x: &[i8; I]) -> [i8; O] {
        let target_zero_point = match self.activation {
            QActivation::Clamp { .. } => self.output.zero_point,
            QActivation::Table(_) | QActivation::Softmax(_) => self.z.zero_point,
        };
        let zero_point = self.input.zero_point;
        let mut z = [0i8; O];
        let rows = self.w.iter().zip(&self.b).zip(self.multiplier.iter().zip(&self.shift));
        for (z, ((row, &b), (&multiplier, &shift))) in z.iter_mut().zip(rows) {
            let mut acc = b;
            for (&w, &x) in row.iter().zip(x) {
                acc = acc.wrapping_add(i32::from(w).wrapping_mul(i32::from(x).wrapping_sub(zero_point)));
            }
            let acc =
                multiply_by_quantized_multiplier(acc, multiplier, shift).wrapping_add(target_zero_point);
            *z = match &self.activation {
                QActivation::Clamp { min, max } => acc.max(i32::from(*min)).min(i32::from(*max)) as i8,
                QActivation::Table(table) => tables::lookup(table, acc.clamp(-128, 127) as i8),
                QActivation::Softmax(_) => acc.clamp(-128, 127) as i8,
            };
        }
        match &self.activation {
            QActivation::Softmax(exp_table) => tables::softmax(&z, exp_table),
            QActivation::Clamp { .. } | QActivation::Table(_) => z,
        }
    }
}

/// The parameters of a calibrated range, checked.
fn params(range: Range, what: &'static str) -> Result<QParams, QuantError> {
    if range.is_empty() {
        return Err(QuantError::EmptyRange { what });
    }
    if !range.lo.is_finite() || !range.hi.is_finite() {
        return Err(QuantError::NonFiniteRange { what });
    }
    let p = QParams::from_range(range);
    if p.is_valid() { Ok(p) } else { Err(QuantError::InvalidParams { what }) }
}
