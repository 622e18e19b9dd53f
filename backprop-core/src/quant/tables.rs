//! The lookup tables of quantized activations, built in `f64` at quantization time, and the
//! integer softmax that reads one.

use core::num::NonZeroU64;

use super::QParams;
use crate::activation::{Activation, LeakyRelu};

/// The activation named `A::NAME` at one `f64` value, with `libm` for the named ones (so that
/// tables are the same on every target and with or without `std`), and through
/// `A::forward::<f64, 1>` for any other.
pub(crate) fn activation_f64<A: Activation>(z: f64) -> f64 {
    match A::NAME {
        "Identity" => z,
        "Relu" => {
            if z > 0.0 {
                z
            } else {
                0.0
            }
        }
        "Sigmoid" => 1.0 / (1.0 + libm::exp(-z)),
        "Tanh" => libm::tanh(z),
        "LeakyRelu" => {
            if z > 0.0 {
                z
            } else {
                LeakyRelu::SLOPE * z
            }
        }
        "Softplus" => z.max(0.0) + libm::log1p(libm::exp(-libm::fabs(z))),
        _ => {
            let mut a = [0.0];
            A::forward::<f64, 1>(&[z], &mut a);
            let [a] = a;
            a
        }
    }
}

/// `table[q + 128] = out.quantize(f(zq.dequantize(q)))` for every `q`.
pub(crate) fn table(zq: QParams, out: QParams, f: impl Fn(f64) -> f64) -> [i8; 256] {
    let mut table = [0; 256];
    for (slot, q) in table.iter_mut().zip(-128i8..=127) {
        *slot = out.quantize(f(zq.dequantize(q)));
    }
    table
}

/// `exp_table[d] = round(65536 · e^(-zq.scale · d))` for `d` in `0..=255`.
pub(crate) fn exp_table(zq: QParams) -> [u32; 256] {
    let mut table = [0; 256];
    for (slot, d) in table.iter_mut().zip(0u32..) {
        // In [0, 65536] for a positive scale: the conversion is exact after rounding.
        *slot = libm::round(65536.0 * libm::exp(-zq.scale * f64::from(d))) as u32;
    }
    table
}

/// `table[q + 128]`.
#[inline(always)]
pub(crate) fn lookup<T: Copy + Default>(table: &[T; 256], q: i8) -> T {
    // `q as u8 ^ 0x80` is `q + 128`, in 0..=255: always `Some`.
    table.get(usize::from(q as u8 ^ 0x80)).copied().unwrap_or_default()
}

/// The integer softmax of the [module documentation](super): probabilities in steps of `1/256`,
/// zero point `-128`, from a table of `2¹⁶ e^(-scale · d)`. Integer-only; a table whose entries
/// sum to `0` (never built by [`exp_table`]) gives `-128` everywhere.
#[inline]
pub(crate) fn softmax<const O: usize>(z: &[i8; O], exp_table: &[u32; 256]) -> [i8; O] {
    let max = z.iter().copied().max().unwrap_or(0);
    let exp = |z: i8| {
        // max - z in 0..=255.
        let d = (i16::from(max) - i16::from(z)) as u8;
        u64::from(exp_table.get(usize::from(d)).copied().unwrap_or(0))
    };
    let sum = z.iter().fold(0u64, |sum, &z| sum.wrapping_add(exp(z)));
    let sum = NonZeroU64::new(sum).unwrap_or(NonZeroU64::MIN);
    let mut y = [0; O];
    for (y, &z) in y.iter_mut().zip(z) {
        // e < 2³², so e · 256 + sum / 2 cannot wrap for O < 2²³.
        let p = exp(z).wrapping_mul(256).wrapping_add(sum.get() / 2) / sum;
        *y = (p.min(255) as i16 - 128) as i8;
    }
    y
}
