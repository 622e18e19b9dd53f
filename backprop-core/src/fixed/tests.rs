//! The arithmetic against its definition, and every function's error against `f64` (libm, within
//! an ulp of `f64`, a billionth of an ulp of `I16F16`) over every input of its unsaturated domain.

extern crate std;

use std::format;

use super::*;

const ULP: f64 = 1.0 / 65536.0;

fn q(bits: i32) -> I16F16 {
    I16F16::from_bits(bits)
}

/// The largest `|got - exact|` in ulps over `inputs`, skipping inputs whose exact value lies
/// outside the representable range (where the result must be the saturation value, checked
/// separately).
fn worst(
    inputs: impl Iterator<Item = i32>,
    f: impl Fn(I16F16) -> I16F16,
    exact: impl Fn(f64) -> f64,
) -> (f64, i32) {
    let mut worst = (0.0, 0);
    for bits in inputs {
        let want = exact(q(bits).to_f64());
        if !(want > -32768.0 && want < 32768.0 - ULP / 2.0) {
            continue;
        }
        let err = (f(q(bits)).to_f64() - want).abs() / ULP;
        if err > worst.0 {
            worst = (err, bits);
        }
    }
    worst
}

#[test]
fn arithmetic_rounds_to_nearest_even_and_saturates() {
    assert_eq!(q(3) * I16F16::HALF, q(2)); // 1.5 ulp: tie, to even
    assert_eq!(q(5) * I16F16::HALF, q(2)); // 2.5 ulp: tie, to even
    assert_eq!(q(-3) * I16F16::HALF, q(-2));
    assert_eq!(q(7) * q(1 << 14), q(2)); // 1.75 ulp
    assert_eq!(I16F16::MAX * I16F16::from_f64(2.0), I16F16::MAX);
    assert_eq!(I16F16::MAX * I16F16::from_f64(-2.0), I16F16::MIN);
    assert_eq!(I16F16::MIN - I16F16::ONE, I16F16::MIN);
    assert_eq!(-I16F16::MIN, I16F16::MAX);
    assert_eq!(I16F16::MIN.abs(), I16F16::MAX);
    assert_eq!(q(1) / q(2 << 16), q(0)); // half an ulp: tie, to even (0)
    assert_eq!(q(3) / q(2 << 16), q(2)); // 1.5 ulp: to even
    assert_eq!(q(-3) / q(2 << 16), q(-2));
    assert_eq!(I16F16::ONE / q(3 << 16), q(21845)); // 21845.33
    assert_eq!(-I16F16::ONE / q(3 << 16), q(-21845));
    assert_eq!(q(2 << 16) / q(3 << 16), q(43691)); // 43690.67
    assert_eq!(I16F16::ONE / I16F16::ZERO, I16F16::MAX);
    assert_eq!(-I16F16::ONE / I16F16::ZERO, I16F16::MIN);
    assert_eq!(I16F16::ZERO / I16F16::ZERO, I16F16::ZERO);
    assert_eq!(I16F16::MAX / I16F16::HALF, I16F16::MAX);
    assert!(!I16F16::MAX.is_finite() && !I16F16::MIN.is_finite() && (-I16F16::INFINITY).is_finite());
    // Against the exact product and quotient, rounded to nearest even in f64 (exact there).
    let mut rng = crate::Rng::new(7);
    for _ in 0..200_000 {
        let (a, b) =
            (rng.next_u64() as i32 >> (rng.next_u64() % 24), rng.next_u64() as i32 >> (rng.next_u64() % 24));
        let (x, y) = (q(a).to_f64(), q(b).to_f64());
        assert_eq!(q(a) * q(b), I16F16::from_f64(x * y), "{a} * {b}");
        if b != 0 {
            // x / y to f64 is within 2^-52 relative: rounding it again is off only near a tie.
            let exact = x / y * 65536.0;
            let got = (q(a) / q(b)).to_bits();
            if exact.abs() < 2.0e9 && (exact - exact.floor() - 0.5).abs() > 1e-6 {
                assert_eq!(got, libm::rint(exact) as i32, "{a} / {b}");
            }
        }
    }
}

#[test]
fn conversions_and_display() {
    assert_eq!(I16F16::from_f64(f64::NAN), I16F16::ZERO);
    assert_eq!(I16F16::from_f64(1e9), I16F16::MAX);
    assert_eq!(I16F16::from_f64(-1e9), I16F16::MIN);
    assert_eq!(I16F16::from_f64(f64::INFINITY), I16F16::MAX);
    assert_eq!(I16F16::from_f64(1.5 / 65536.0), q(2)); // tie, to even
    assert_eq!(I16F16::from_f64(0.1).to_bits(), 6554);
    let cases =
        [(1 << 16, "1"), (-(3 << 15), "-1.5"), (1, "0.0000152587890625"), (0, "0"), (i32::MIN, "-32768")];
    for (bits, text) in cases {
        assert_eq!(format!("{}", q(bits)), text);
        assert_eq!(format!("{:?}", q(bits)), text);
    }
    assert_eq!(format!("{:.3}", I16F16::from_f64(0.1)), "0.100");
    assert_eq!(format!("{:.2}", q(-(1 << 16) + 1)), "-1.00");
    assert_eq!(format!("{:.0}", I16F16::HALF), "0");
    assert_eq!(format!("{:.1}", q(i32::MAX)), "32768.0");
    assert_eq!(format!("{:>6}", I16F16::HALF), "   0.5");
    for bits in (i32::MIN..=i32::MAX).step_by(9973) {
        let text = format!("{}", q(bits));
        assert_eq!(text.parse::<f64>().ok(), Some(q(bits).to_f64()), "{bits}");
    }
}

/// Every input from -12 (below which the result is 0) to 11 (above which it saturates), and the
/// saturated ranges sampled.
#[test]
fn exp_is_within_half_an_ulp() {
    let (err, at) = worst(-(12 << 16)..=11 << 16, Scalar::exp, libm::exp);
    assert!(err <= 0.5005, "exp: {err} ulp at {}", q(at));
    let below = I16F16::from_f64(10.3972); // e^10.3972 = 32767.80
    assert_eq!(below.exp().to_bits(), libm::rint(libm::exp(below.to_f64()) * 65536.0) as i32);
    assert_eq!(I16F16::from_f64(10.3973).exp(), I16F16::MAX);
    for bits in (11 << 16..=i32::MAX).step_by(7919) {
        assert_eq!(q(bits).exp(), I16F16::MAX);
    }
    for bits in (i32::MIN..=-(12 << 16)).step_by(7919) {
        assert_eq!(q(bits).exp(), I16F16::ZERO);
    }
    assert_eq!(I16F16::MIN.exp(), I16F16::ZERO);
}

/// Every input below 64, then every 4099th up to `MAX`, and around every power of two.
#[test]
fn ln_and_ln_1p_are_within_half_an_ulp() {
    let powers = (0..31).flat_map(|p| (-3..=3).map(move |d| (1i32 << p).saturating_add(d)));
    let inputs = (1..64 << 16).chain((64 << 16..=i32::MAX).step_by(4099)).chain(powers).chain([i32::MAX]);
    let (err, at) = worst(inputs.clone().filter(|&b| b > 0), Scalar::ln, libm::log);
    assert!(err <= 0.5005, "ln: {err} ulp at {}", q(at));
    let shifted = inputs.map(|b| b.saturating_sub(1 << 16)).chain(-(1 << 16) + 1..=(1 << 16));
    let (err, at) = worst(shifted, Scalar::ln_1p, libm::log1p);
    assert!(err <= 0.5005, "ln_1p: {err} ulp at {}", q(at));
    assert_eq!(I16F16::ZERO.ln(), I16F16::MIN);
    assert_eq!(I16F16::from_f64(-3.0).ln(), I16F16::MIN);
    assert_eq!((-I16F16::ONE).ln_1p(), I16F16::MIN);
    assert_eq!(I16F16::ONE.ln(), I16F16::ZERO);
    assert_eq!(I16F16::ZERO.ln_1p(), I16F16::ZERO);
}

/// Every input from -8 to 8 (beyond ±7 the result is ±1), and the rest sampled.
#[test]
fn tanh_is_within_half_an_ulp() {
    let (err, at) = worst(-(8 << 16)..=8 << 16, Scalar::tanh, libm::tanh);
    assert!(err <= 0.5005, "tanh: {err} ulp at {}", q(at));
    let (err, _) = worst((i32::MIN..=i32::MAX).step_by(7919), Scalar::tanh, libm::tanh);
    assert!(err <= 0.5005, "tanh: {err} ulp");
    assert_eq!(I16F16::MIN.tanh(), -I16F16::ONE);
    assert_eq!(I16F16::MAX.tanh(), I16F16::ONE);
}

/// Every input below 16, then every 997th, and the top.
#[test]
fn sqrt_is_within_half_an_ulp() {
    let inputs = (0..16 << 16).chain((16 << 16..=i32::MAX).step_by(997)).chain([i32::MAX]);
    let (err, at) = worst(inputs, Scalar::sqrt, libm::sqrt);
    assert!(err <= 0.5, "sqrt: {err} ulp at {}", q(at));
    assert_eq!(I16F16::from_f64(-4.0).sqrt(), I16F16::ZERO);
    assert_eq!(I16F16::from_f64(2.25).sqrt().to_f64(), 1.5);
}
