//! The integer primitives of gemmlowp and TensorFlow Lite Micro (`fixedpoint.h`,
//! `quantization_util.cc`), exactly as the [module documentation](super) states them: requantizing
//! an `i32` accumulator by a real multiplier `m` as a Q31 fixed-point multiplier and a shift, with
//! two roundings to nearest: the high multiplication's ties go up (toward `+∞`: gemmlowp's nudge
//! of `1 - 2³⁰` for negative products, then a division truncating toward zero), the shift's ties
//! away from zero.
//!
//! Every function is total: no input panics or overflows (out-of-range shifts are clamped, as the
//! documentation of each says). All but [`quantize_multiplier`] are integer-only.

/// `floor(a · b / 2³¹ + 1/2)`, saturated: gemmlowp's `SaturatingRoundingDoublingHighMul`, which
/// rounds to nearest with ties toward `+∞` (`-0.5 → 0`, `-1.5 → -1`, `0.5 → 1`). The one product
/// that does not fit, `i32::MIN · i32::MIN`, gives `i32::MAX`.
///
/// ```
/// use backprop_core::quant::arith::saturating_rounding_doubling_high_mul as srdhm;
/// assert_eq!(srdhm(1 << 30, 1 << 30), 1 << 29); // 0.5 · 0.5 = 0.25 in Q31
/// assert_eq!(srdhm(3, 1 << 30), 2); // 1.5 rounds up
/// assert_eq!(srdhm(-3, 1 << 30), -1); // -1.5 rounds up too
/// assert_eq!(srdhm(i32::MIN, i32::MIN), i32::MAX);
/// ```
#[inline]
pub fn saturating_rounding_doubling_high_mul(a: i32, b: i32) -> i32 {
    if a == i32::MIN && b == i32::MIN {
        return i32::MAX;
    }
    // |ab| ≤ 2⁶², so neither the product nor the nudge can overflow an i64.
    let ab = i64::from(a).wrapping_mul(i64::from(b));
    let nudge: i64 = if ab >= 0 { 1 << 30 } else { 1 - (1 << 30) };
    // Division truncating toward zero, as C's; the quotient fits an i32 except for the case above.
    (ab.wrapping_add(nudge) / (1i64 << 31)) as i32
}

/// `x / 2^exponent` rounded to nearest, ties away from zero: gemmlowp's `RoundingDivideByPOT`.
///
/// `exponent` is meant to be in `0..=31`; a negative one is taken as `0`, a larger one as `31`.
///
/// ```
/// use backprop_core::quant::arith::rounding_divide_by_pot;
/// assert_eq!(rounding_divide_by_pot(-3, 1), -2); // -1.5: away from zero
/// assert_eq!(rounding_divide_by_pot(3, 1), 2);
/// assert_eq!(rounding_divide_by_pot(-5, 2), -1); // -1.25
/// assert_eq!(rounding_divide_by_pot(i32::MAX, 31), 1);
/// ```
#[inline]
pub fn rounding_divide_by_pot(x: i32, exponent: i32) -> i32 {
    let exponent = exponent.clamp(0, 31) as u32;
    let mask = (1i64 << exponent) - 1;
    let remainder = i64::from(x) & mask;
    let threshold = (mask >> 1) + i64::from(x < 0);
    // `x >> exponent` is at most 2³¹ - 1 >> 1 when the remainder is non-zero: adding 1 fits.
    x.wrapping_shr(exponent).wrapping_add(i32::from(remainder > threshold))
}

/// `x · m` for the real multiplier `m = multiplier · 2^(shift - 31)` that [`quantize_multiplier`]
/// encodes: TensorFlow Lite Micro's `MultiplyByQuantizedMultiplier`, with double rounding.
///
/// A positive `shift` multiplies `x` by `2^shift` first, in `i32` and wrapping (as TensorFlow
/// Lite; callers keep it in range, and a shift above 30 is never produced); a negative one
/// divides the result by `2^-shift` with [`rounding_divide_by_pot`]. Shifts are clamped to
/// `-31..=31`.
///
/// ```
/// use backprop_core::quant::arith::{multiply_by_quantized_multiplier, quantize_multiplier};
/// let (m, s) = quantize_multiplier(0.25);
/// assert_eq!(multiply_by_quantized_multiplier(10, m, s), 3); // 2.5 rounds away from zero
/// assert_eq!(multiply_by_quantized_multiplier(-10, m, s), -3);
/// let (m, s) = quantize_multiplier(3.0);
/// assert_eq!(multiply_by_quantized_multiplier(-7, m, s), -21);
/// ```
#[inline]
pub fn multiply_by_quantized_multiplier(x: i32, multiplier: i32, shift: i32) -> i32 {
    let shift = shift.clamp(-31, 31);
    let left = shift.max(0) as u32;
    let right = (-shift).max(0);
    let scaled = x.wrapping_mul(1i32.wrapping_shl(left));
    rounding_divide_by_pot(saturating_rounding_doubling_high_mul(scaled, multiplier), right)
}

/// The fixed-point form `(multiplier, shift)` of a real multiplier `m ≥ 0`, with
/// `m ≈ multiplier · 2^(shift - 31)` and `multiplier` in `[2³⁰, 2³¹)`: TensorFlow Lite's
/// `QuantizeMultiplier`.
///
/// `(q, e) = frexp(m)`; `multiplier = round(q · 2³¹)`, halved with `e + 1` when it rounds up to
/// `2³¹`; below `2⁻³²` (`e < -31`) the multiplier is `(0, 0)`, and from `2³⁰` up (`e > 30`) it
/// saturates at `(2³¹ - 1, 30)`. `0`, NaN and negative `m` give `(0, 0)`, `+∞` the saturated pair.
/// Uses `libm`, so the result is the same on every target.
///
/// ```
/// use backprop_core::quant::arith::quantize_multiplier;
/// assert_eq!(quantize_multiplier(1.0), (1 << 30, 1));
/// assert_eq!(quantize_multiplier(0.5), (1 << 30, 0));
/// assert_eq!(quantize_multiplier(0.75), (3 << 29, 0));
/// assert_eq!(quantize_multiplier(1e-12), (0, 0));
/// ```
pub fn quantize_multiplier(m: f64) -> (i32, i32) {
    if m.is_nan() || m <= 0.0 {
        return (0, 0);
    }
    if m == f64::INFINITY {
        return (i32::MAX, 30);
    }
    let (q, mut e) = libm::frexp(m);
    // q in [0.5, 1): q · 2³¹ in [2³⁰, 2³¹], exact before rounding.
    let mut q_fixed = libm::round(q * 2_147_483_648.0) as i64;
    if q_fixed == 1 << 31 {
        q_fixed /= 2;
        e = e.saturating_add(1);
    }
    if e < -31 {
        return (0, 0);
    }
    if e > 30 {
        return (i32::MAX, 30);
    }
    (i32::try_from(q_fixed).unwrap_or(i32::MAX), e)
}

// Many random inputs and no `unsafe`: skipped under Miri (see `quant::tests`).
#[cfg(all(test, not(miri)))]
mod tests {
    use super::*;

    /// What gemmlowp's nudge-and-truncate computes, in 128-bit arithmetic: `floor(a b / 2³¹ + 1/2)`,
    /// saturated.
    fn srdhm_exact(a: i32, b: i32) -> i32 {
        let ab = i128::from(a) * i128::from(b);
        (ab + (1 << 30)).div_euclid(1 << 31).clamp(i32::MIN.into(), i32::MAX.into()) as i32
    }

    #[test]
    fn doubling_high_mul_known_values() {
        assert_eq!(saturating_rounding_doubling_high_mul(i32::MIN, i32::MIN), i32::MAX);
        assert_eq!(saturating_rounding_doubling_high_mul(i32::MIN, i32::MAX), -i32::MAX);
        assert_eq!(saturating_rounding_doubling_high_mul(i32::MAX, i32::MAX), i32::MAX - 1);
        assert_eq!(saturating_rounding_doubling_high_mul(0, i32::MIN), 0);
        // 1 · 2³⁰ / 2³¹ = 0.5: ties go up, for both signs (gemmlowp's nudge for a negative
        // product is 1 - 2³⁰, not -2³⁰).
        assert_eq!(saturating_rounding_doubling_high_mul(1, 1 << 30), 1);
        assert_eq!(saturating_rounding_doubling_high_mul(-1, 1 << 30), 0);
        assert_eq!(saturating_rounding_doubling_high_mul(-3, 1 << 30), -1);
        assert_eq!(saturating_rounding_doubling_high_mul(-5, 1 << 30), -2);
        assert_eq!(saturating_rounding_doubling_high_mul(5, 1 << 30), 3);
        // Just below a half: toward zero.
        assert_eq!(saturating_rounding_doubling_high_mul(1, (1 << 30) - 1), 0);
        assert_eq!(saturating_rounding_doubling_high_mul(-1, (1 << 30) - 1), 0);
        // 100 · 0.75 = 75 exactly.
        assert_eq!(saturating_rounding_doubling_high_mul(100, 3 << 29), 75);
    }

    #[test]
    fn doubling_high_mul_matches_its_definition() {
        let mut s = 0x2545_f491_4f6c_dd1du64;
        let mut next = || {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            s as i32
        };
        let edges = [i32::MIN, i32::MIN + 1, -1, 0, 1, i32::MAX, 1 << 30, -(1 << 30)];
        for &a in &edges {
            for &b in &edges {
                assert_eq!(saturating_rounding_doubling_high_mul(a, b), srdhm_exact(a, b), "{a} {b}");
            }
        }
        for _ in 0..100_000 {
            let (a, b) = (next(), next() >> (next() & 31));
            assert_eq!(saturating_rounding_doubling_high_mul(a, b), srdhm_exact(a, b), "{a} {b}");
        }
    }

    #[test]
    fn rounding_divide_by_pot_ties_away_from_zero() {
        let cases = [
            (-3, 1, -2), // -1.5
            (3, 1, 2),   // 1.5
            (-1, 1, -1), // -0.5
            (1, 1, 1),   // 0.5
            (-5, 1, -3), // -2.5
            (5, 1, 3),
            (-6, 2, -2), // -1.5
            (-5, 2, -1), // -1.25
            (-7, 2, -2), // -1.75
            (6, 2, 2),   // 1.5
            (5, 2, 1),
            (7, 0, 7),
            (i32::MIN, 31, -1),
            (i32::MAX, 31, 1),
            (-(1 << 30), 31, -1), // -0.5
            ((1 << 30) - 1, 31, 0),
            (i32::MIN, 1, -(1 << 30)),
        ];
        for (x, e, want) in cases {
            assert_eq!(rounding_divide_by_pot(x, e), want, "{x} / 2^{e}");
        }
        // Out-of-range exponents are clamped.
        assert_eq!(rounding_divide_by_pot(7, -4), 7);
        assert_eq!(rounding_divide_by_pot(i32::MAX, 99), 1);
        // Against the definition, by brute force over small values.
        for x in -1000..=1000 {
            for e in 0..12 {
                let d = f64::from(x) / f64::from(1 << e);
                assert_eq!(rounding_divide_by_pot(x, e), libm::round(d) as i32, "{x} / 2^{e}");
            }
        }
    }

    #[test]
    fn quantize_multiplier_edge_cases() {
        assert_eq!(quantize_multiplier(1.0), (1 << 30, 1));
        assert_eq!(quantize_multiplier(0.5), (1 << 30, 0));
        assert_eq!(quantize_multiplier(0.25), (1 << 30, -1));
        assert_eq!(quantize_multiplier(2.0), (1 << 30, 2));
        assert_eq!(quantize_multiplier(0.0), (0, 0));
        assert_eq!(quantize_multiplier(-0.0), (0, 0));
        assert_eq!(quantize_multiplier(-1.0), (0, 0));
        assert_eq!(quantize_multiplier(f64::NAN), (0, 0));
        assert_eq!(quantize_multiplier(f64::INFINITY), (i32::MAX, 30));
        // q · 2³¹ rounds up to 2³¹: halved, exponent + 1.
        assert_eq!(quantize_multiplier(1.0 - 2f64.powi(-40)), (1 << 30, 1));
        assert_eq!(quantize_multiplier(0.5 - 2f64.powi(-45)), (1 << 30, 0));
        // Just below the rounding point it stays at 2³¹ - 1.
        assert_eq!(quantize_multiplier(1.0 - 2f64.powi(-31)), (i32::MAX, 0));
        // Ties round away from zero: q = 0.5 + 2⁻³² → 2³⁰ + 0.5 → 2³⁰ + 1.
        assert_eq!(quantize_multiplier(0.5 + 2f64.powi(-32)), ((1 << 30) + 1, 0));
        // The smallest exponent kept, and the first one dropped.
        assert_eq!(quantize_multiplier(2f64.powi(-32)), (1 << 30, -31));
        assert_eq!(quantize_multiplier(2f64.powi(-33)), (0, 0));
        assert_eq!(quantize_multiplier(1e-300), (0, 0));
        assert_eq!(quantize_multiplier(f64::MIN_POSITIVE / 8.0), (0, 0)); // subnormal
        // The largest exponent kept, and saturation above it.
        assert_eq!(quantize_multiplier(2f64.powi(29)), (1 << 30, 30));
        assert_eq!(quantize_multiplier(2f64.powi(30)), (i32::MAX, 30));
        assert_eq!(quantize_multiplier(1e300), (i32::MAX, 30));
        // A typical requantization scale (TFLite's tests use 1/3 and friends).
        let (m, s) = quantize_multiplier(1.0 / 3.0);
        assert_eq!((m, s), (1_431_655_765, -1));
    }

    #[test]
    fn multiply_by_quantized_multiplier_is_close_to_the_real_product() {
        for &m in &[1e-6, 0.0123, 0.3, 1.0 / 3.0, 0.999, 1.0, 1.7, 37.5] {
            let (q, s) = quantize_multiplier(m);
            for x in (-100_000..=100_000).step_by(997) {
                let got = multiply_by_quantized_multiplier(x, q, s);
                let exact = f64::from(x) * m;
                // Two roundings: at most one unit off the real product (half a unit each, plus the
                // Q31 representation error of m, below 2⁻³¹ relative).
                assert!((f64::from(got) - exact).abs() <= 1.0, "{x} · {m}: {got} vs {exact}");
            }
        }
        // Double rounding, as gemmlowp: 1 · 0.25 is first 1 · 0.5 = 0.5 → 1 (high-mul), then
        // 1 / 2 = 0.5 → 1; single rounding would give round(0.25) = 0.
        let (q, s) = quantize_multiplier(0.25);
        assert_eq!((q, s), (1 << 30, -1));
        assert_eq!(multiply_by_quantized_multiplier(1, q, s), 1);
        // -1 · 0.25: -0.5 → 0 (high-mul ties go up), then 0.
        assert_eq!(multiply_by_quantized_multiplier(-1, q, s), 0);
        // -3 · 0.25: -1.5 → -1, then -0.5 → -1 (away from zero); single rounding: -1.
        assert_eq!(multiply_by_quantized_multiplier(-3, q, s), -1);
        // 5 · 0.25 = 1.25: 2.5 → 3, then 1.5 → 2 (single rounding: 1).
        assert_eq!(multiply_by_quantized_multiplier(5, q, s), 2);
        // Extreme and out-of-range arguments do not panic.
        for &x in &[i32::MIN, -1, 0, 1, i32::MAX] {
            for &m in &[i32::MIN, 0, 1 << 30, i32::MAX] {
                for &s in &[i32::MIN, -32, -31, -1, 0, 1, 30, 31, 32, i32::MAX] {
                    core::hint::black_box(multiply_by_quantized_multiplier(x, m, s));
                }
            }
        }
    }
}
