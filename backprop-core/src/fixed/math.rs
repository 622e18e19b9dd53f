//! `exp`, `ln`, `tanh` and `sqrt` of [`I16F16`](super::I16F16) in integer arithmetic only: range
//! reduction and a polynomial in a wider fixed-point format (`i64`, with `i128` products for the
//! exponential), so that a core without an FPU links no soft-float routine. Every function takes
//! and returns the raw bits (value = bits / 2¹⁶) and rounds its result to nearest once, at the end;
//! the intermediate errors are far below that rounding (see each function and the exhaustive
//! tests in `tests.rs`).
//!
//! The arithmetic is written with `wrapping_*` operations where the ranges stated in the comments
//! rule out overflow, so that a build with overflow checks has no panic path here either.

/// `ln 2 · 2⁶²`, rounded.
const LN2_Q62: i64 = 3_196_577_161_300_663_915;
/// `ln 2 · 2³²`, rounded.
const LN2_Q32: i64 = 2_977_044_472;
/// `log₂ e · 2³²`, rounded.
const LOG2E_Q32: i64 = 6_196_328_019;
/// `√2 · 2³²`, rounded.
const SQRT2_Q32: u64 = 6_074_001_000;
/// `1 / i!` in Q62 for `i = 0..=11`, truncated (each within `2⁻⁶²`).
const EXP_COEFFICIENTS: [i64; 12] = {
    let mut c = [0i64; 12];
    let mut value = 1i64 << 62;
    let mut i = 0;
    while i < 12 {
        if i > 0 {
            value /= i as i64;
        }
        c[i] = value;
        i += 1;
    }
    c
};
/// `1 / (2j + 1)` in Q32 for `j = 0..=6`, rounded: `atanh(s)/s = Σ s^2j / (2j + 1)`.
const ATANH_COEFFICIENTS: [i64; 7] = {
    let mut c = [0i64; 7];
    let mut j = 0;
    while j < 7 {
        let d = 2 * j as i64 + 1;
        c[j] = ((1i64 << 32) + d / 2) / d;
        j += 1;
    }
    c
};

/// `a · b / 2⁶²` in Q62, truncated toward `-∞` (both operands below `2⁶³` in magnitude).
#[inline(always)]
fn mul_q62(a: i64, b: i64) -> i64 {
    (i128::from(a).wrapping_mul(i128::from(b)) >> 62) as i64
}

/// `(e^r · 2⁶², k)` with `x = k ln 2 + r`, `|r| ≤ ln 2 / 2` (plus `2⁻²⁸`), for `|x| < 16` given
/// in Q16. `e^r` is Taylor's polynomial of degree 11 in Q62: truncation below `2⁻⁴⁶` relative,
/// rounding of the 11 Horner steps below `2⁻⁵⁸`, and `r` exact to `2⁻⁵⁸` (`ln 2` in Q62).
#[inline]
fn exp_parts(x: i32) -> (i64, i32) {
    let k = (i64::from(x).wrapping_mul(LOG2E_Q32).wrapping_add(1 << 47) >> 48) as i32;
    let r = (i128::from(x) << 46).wrapping_sub(i128::from(k).wrapping_mul(i128::from(LN2_Q62))) as i64;
    let mut acc = 0i64;
    for &c in EXP_COEFFICIENTS.iter().rev() {
        acc = c.wrapping_add(mul_q62(acc, r));
    }
    (acc, k)
}

/// `floor(v / 2^shift + 1/2)` for `v ≥ 0`, `0` when the shift is 64 or more.
#[inline(always)]
fn round_shift(v: i64, shift: u32) -> i64 {
    match shift {
        0 => v,
        _ => v.checked_shr(shift.wrapping_sub(1)).unwrap_or(0).wrapping_add(1) >> 1,
    }
}

/// `e^x`: `0` below `-12` (where `e^x < 2⁻¹⁷`, half an ulp), [`i32::MAX`] (saturated) from
/// `ln(32768) ≈ 10.3972` up.
pub(super) fn exp(x: i32) -> i32 {
    if x >= 11 << 16 {
        return i32::MAX;
    }
    if x <= -(12 << 16) {
        return 0;
    }
    let (e, k) = exp_parts(x);
    // e^x = e · 2^(k - 62) = bits · 2^-16: shift by 46 - k, k in [-17, 16].
    let bits = round_shift(e, 46u32.wrapping_sub(k as u32));
    bits.min(i64::from(i32::MAX)) as i32
}

/// `ln(n / 2¹⁶)` for `0 < n < 2³³`: `n = 2^e f` with `f` in `[√½, √2)` and
/// `ln f = 2 atanh(s)`, `s = (f - 1) / (f + 1)`, `|s| ≤ 0.1716`, by its series to `s¹³` in Q32
/// (truncation below `2⁻³⁶`, roundings below `2⁻²⁹`), plus `e ln 2`.
pub(super) fn ln_of(n: u64) -> i32 {
    if n == 0 {
        return i32::MIN;
    }
    let top = 63u32.wrapping_sub(n.leading_zeros()); // n's highest set bit: n in [2^top, 2^(top + 1))
    let mut e = i64::from(top).wrapping_sub(16);
    let mut f = n.checked_shl(32u32.wrapping_sub(top)).unwrap_or(0); // [2^32, 2^33), exact
    if f > SQRT2_Q32 {
        f >>= 1; // exact: the shift above left at least one zero bit
        e = e.wrapping_add(1);
    }
    let f = f as i64;
    let one = 1i64 << 32;
    let s = (f.wrapping_sub(one) << 32).checked_div(f.wrapping_add(one)).unwrap_or(0);
    let z = s.wrapping_mul(s) >> 32;
    let mut acc = 0i64;
    for &c in ATANH_COEFFICIENTS.iter().rev() {
        acc = c.wrapping_add(acc.wrapping_mul(z) >> 32);
    }
    let ln_f = s.wrapping_mul(acc) >> 31;
    let v = e.wrapping_mul(LN2_Q32).wrapping_add(ln_f); // Q32
    (v.wrapping_add(1 << 15) >> 16) as i32
}

/// `tanh(x)`: odd; `±1` from `|x| ≥ 7` (where `1 - tanh < 2⁻¹⁷`); otherwise
/// `(1 - e) / (1 + e)` with `e = e^(-2|x|)` in Q32 from [`exp_parts`], one rounded division.
pub(super) fn tanh(x: i32) -> i32 {
    let a = i64::from(x).abs();
    let magnitude = if a >= 7 << 16 {
        1 << 16
    } else {
        let (e, k) = exp_parts((a as i32).wrapping_mul(-2));
        let e = round_shift(e, 30u32.wrapping_sub(k as u32)) as u64; // Q32, k ≤ 0
        let (num, den) = ((1u64 << 32).wrapping_sub(e), (1u64 << 32).wrapping_add(e));
        (num << 17).wrapping_add(den).checked_div(den.wrapping_mul(2)).unwrap_or(0) as i32
    };
    if x < 0 { magnitude.wrapping_neg() } else { magnitude }
}

/// `√x`, `0` for `x ≤ 0`: the integer square root of `bits · 2¹⁶`, rounded to nearest (exact to
/// half an ulp), by the bit-by-bit method (no division).
pub(super) fn sqrt(x: i32) -> i32 {
    if x <= 0 {
        return 0;
    }
    let n = (x as u64) << 16;
    let (mut rem, mut root) = (n, 0u64);
    let mut bit = 1u64 << 62;
    while bit > n {
        bit >>= 2;
    }
    while bit != 0 {
        let trial = root.wrapping_add(bit);
        if rem >= trial {
            rem = rem.wrapping_sub(trial);
            root = (root >> 1).wrapping_add(bit);
        } else {
            root >>= 1;
        }
        bit >>= 2;
    }
    // n = root² + rem; round up when n > (root + 1/2)² = root² + root + 1/4.
    (if rem > root { root.wrapping_add(1) } else { root }) as i32
}
