//! The quantized layer against the float one, tables and softmax against their error bounds, and
//! forward on arbitrary fields and inputs (these tests run with overflow checks on, so any
//! unintended overflow would panic here).

extern crate std;
use std::string::ToString;

use super::arith::quantize_multiplier;
use super::tables::{activation_f64, softmax};
use super::*;
use crate::activation::{
    Activation, Elementwise, Identity, LeakyRelu, Relu, Sigmoid, Softmax, Softplus, Tanh,
};
use crate::{Dense, Rng};

#[test]
fn params_from_ranges() {
    // [0, 1] data: scale 1/255, zero point -128, as TensorFlow Lite.
    assert_eq!(
        QParams::from_range(Range { lo: 0.0, hi: 1.0 }),
        QParams { scale: 1.0 / 255.0, zero_point: -128 }
    );
    // A range above zero is widened down to it; one below, up to it.
    assert_eq!(
        QParams::from_range(Range { lo: 2.0, hi: 5.1 }),
        QParams { scale: 5.1 / 255.0, zero_point: -128 }
    );
    assert_eq!(
        QParams::from_range(Range { lo: -5.1, hi: -2.0 }),
        QParams { scale: 5.1 / 255.0, zero_point: 127 }
    );
    // Symmetric: -128 - (-1) / (2 / 255) = -0.5, which rounds away from zero to -1.
    assert_eq!(QParams::from_range(Range { lo: -1.0, hi: 1.0 }).zero_point, -1);
    assert_eq!(QParams::from_range(Range { lo: 0.0, hi: 0.0 }), QParams { scale: 1.0, zero_point: -128 });
    assert_eq!(QParams::from_range(Range { lo: -3.0, hi: f64::INFINITY }).scale, f64::INFINITY);
}

#[test]
fn quantize_rounds_then_adds_then_clamps() {
    let p = QParams { scale: 0.5, zero_point: 10 };
    assert_eq!(p.quantize(0.25), 11); // 0.5 → 1 (away from zero)
    assert_eq!(p.quantize(-0.25), 9);
    assert_eq!(p.quantize(-0.24), 10);
    assert_eq!(p.quantize(1e300), 127);
    assert_eq!(p.quantize(-1e300), -128);
    assert_eq!(p.quantize(f64::INFINITY), 127);
    assert_eq!(p.quantize(f64::NAN), 10);
    assert_eq!(p.dequantize(-128), -69.0);
    for q in -128..=127 {
        assert_eq!(p.quantize(p.dequantize(q)), q);
    }
}

#[test]
fn range_includes_and_poisons() {
    let mut r = Range::EMPTY;
    r.include::<f32>(&[]);
    assert!(r.is_empty());
    r.include(&[3.0f32]);
    assert_eq!(r, Range { lo: 3.0, hi: 3.0 });
    assert!(!r.is_empty());
    r.include(&[f64::NAN]);
    r.include(&[-7.0f64, 9.0]);
    assert!(r.lo.is_nan() && r.hi.is_nan() && !r.is_empty());
}

#[test]
fn errors_name_the_problem() {
    let layer = Dense::new([[1.0f64, 2.0], [3.0, 4.0]], [0.0, 1.0]);
    let input = QParams { scale: 0.1, zero_point: 0 };
    let z = Range { lo: -1.0, hi: 1.0 };
    let q = |l: &Dense<f64, 2, 2>, input, z, a| QDense::quantize::<f64, Relu>(l, input, z, a).map(|_| ());
    assert_eq!(q(&layer, input, z, Range::EMPTY), Err(QuantError::EmptyRange { what: "a" }));
    assert_eq!(
        q(&layer, input, Range { lo: f64::NAN, hi: 0.0 }, z),
        Err(QuantError::NonFiniteRange { what: "z" })
    );
    assert_eq!(
        q(&layer, input, Range { lo: -f64::MAX, hi: f64::MAX }, z),
        Err(QuantError::InvalidParams { what: "z" })
    );
    for bad in [0.0, -1.0, f64::NAN, f64::INFINITY] {
        let input = QParams { scale: bad, zero_point: 0 };
        assert_eq!(q(&layer, input, z, z), Err(QuantError::InvalidParams { what: "input" }));
    }
    assert_eq!(
        q(&layer, QParams { scale: 0.1, zero_point: 128 }, z, z),
        Err(QuantError::InvalidParams { what: "input" })
    );
    let mut bad = layer;
    bad.w[1][0] = f64::INFINITY;
    let err = QDense::quantize::<f64, Identity>(&bad, input, z, z).unwrap_err();
    assert_eq!(err, QuantError::NonFiniteParam { what: "weight", row: 1, column: 0 });
    assert_eq!(err.to_string(), "weight [1][0] is infinite or NaN");
    bad = layer;
    bad.b[1] = f64::NAN;
    assert_eq!(q(&bad, input, z, z), Err(QuantError::NonFiniteParam { what: "bias", row: 1, column: 0 }));
    // Identity, Sigmoid, Tanh and Softmax do not use the a range.
    assert!(QDense::quantize::<f64, Sigmoid>(&layer, input, z, Range::EMPTY).is_ok());
    assert!(QDense::quantize::<f64, Softmax>(&layer, input, z, Range::EMPTY).is_ok());
}

#[test]
fn quantized_weights_biases_and_multipliers() {
    let layer = Dense::new([[0.5f64, -0.25, 0.0], [0.0, 0.0, 0.0]], [0.1, -0.3]);
    let input = QParams { scale: 0.01, zero_point: 5 };
    let z = Range { lo: -1.0, hi: 3.0 };
    let q = QDense::quantize::<f64, Identity>(&layer, input, z, z).unwrap();
    // Row 0: s_w = 0.5 / 127; -0.25 → -63.5 → -64. Row 1 is all zero: s_w = 1.
    assert_eq!(q.w, [[127, -64, 0], [0, 0, 0]]);
    let s_w0 = 0.5 / 127.0;
    assert_eq!(q.b, [libm::round(0.1 / (0.01 * s_w0)) as i32, -30]);
    assert_eq!(q.z, QParams::from_range(z));
    assert_eq!(q.output, q.z);
    assert_eq!((q.multiplier[0], q.shift[0]), quantize_multiplier(0.01 * s_w0 / q.z.scale));
    assert_eq!((q.multiplier[1], q.shift[1]), quantize_multiplier(0.01 / q.z.scale));
    // The all-zero row outputs its bias: -0.3 → round(-0.3 / (4 / 255)) - 64.
    let y = q.forward(&[-128, 0, 127]);
    assert_eq!(y[1], q.z.quantize(-0.3));
}

/// A random layer with weights in `[-scale, scale]` and its calibration over `N` random inputs in
/// `[lo, hi]`: the layer, the inputs, the input range, the z range and the a range.
fn calibrated<A: Activation, const I: usize, const O: usize, const N: usize>(
    rng: &mut Rng,
    scale: f64,
    (lo, hi): (f64, f64),
) -> (Dense<f64, I, O>, [[f64; I]; N], Range, Range, Range) {
    let mut layer = Dense::<f64, I, O>::zeroed();
    for w in layer.w.iter_mut().flatten().chain(layer.b.iter_mut()) {
        *w = rng.uniform(-scale, scale);
    }
    let xs: [[f64; I]; N] = core::array::from_fn(|_| core::array::from_fn(|_| rng.uniform(lo, hi)));
    let (mut x_range, mut z_range, mut a_range) = (Range::EMPTY, Range::EMPTY, Range::EMPTY);
    for x in &xs {
        let mut z = [0.0; O];
        layer.affine(x, &mut z);
        let mut a = [0.0; O];
        A::forward(&z, &mut a);
        x_range.include(x);
        z_range.include(&z);
        a_range.include(&a);
    }
    (layer, xs, x_range, z_range, a_range)
}

/// The worst error of the dequantized integer forward of an Identity or Relu layer against the
/// float forward, as a fraction of the bound
/// `s_in/2 · Σ|W[o]| + s_w[o]/2 · Σ|x̃| + s_in s_w[o] / 2 + 1.5 s_out`:
/// input rounding through the exact weights, weight rounding through the quantized input, bias
/// rounding, and the requantization (two roundings, at most one output step, plus half a step
/// where the top of the range rounds past 127). Relu is 1-Lipschitz, so the same bound holds.
fn dense_error_ratio<A: Activation>(seed: u64) -> f64 {
    let mut rng = Rng::new(seed);
    let (layer, xs, x_range, z_range, a_range) = calibrated::<A, 24, 12, 200>(&mut rng, 0.7, (-2.0, 3.0));
    let input = QParams::from_range(x_range);
    let q = QDense::quantize::<f64, A>(&layer, input, z_range, a_range).unwrap();
    let mut worst = 0.0f64;
    for x in &xs {
        let x_q = input.quantize_all(x);
        let x_deq = input.dequantize_all(&x_q);
        let y = q.output.dequantize_all(&q.forward(&x_q));
        let mut z = [0.0; 12];
        layer.affine(x, &mut z);
        let mut a = [0.0; 12];
        A::forward(&z, &mut a);
        for (o, (&y, &a)) in y.iter().zip(&a).enumerate() {
            let w_abs: f64 = layer.w[o].iter().map(|w| w.abs()).sum();
            let s_w = layer.w[o].iter().fold(0.0f64, |m, w| m.max(w.abs())) / 127.0;
            let x_abs: f64 = x_deq.iter().map(|x| x.abs()).sum();
            let bound = input.scale / 2.0 * w_abs
                + s_w / 2.0 * x_abs
                + input.scale * s_w / 2.0
                + 1.5 * q.output.scale;
            worst = worst.max((y - a).abs() / bound);
        }
    }
    worst
}

#[test]
fn identity_and_relu_layers_match_the_float_layer_within_the_bound() {
    for seed in 1..=5 {
        let identity = dense_error_ratio::<Identity>(seed);
        let relu = dense_error_ratio::<Relu>(seed);
        assert!(identity <= 1.0 && relu <= 1.0, "seed {seed}: {identity} {relu} of the bound");
    }
}

/// Every entry of a table is the nearest output step to `f` at its input, except where `f` is
/// beyond the output range, where it is the end of the range.
fn check_table<A: Activation>(zq: QParams, out: QParams, table: &[i8; 256], f: fn(f64) -> f64) {
    let (lowest, highest) = (out.dequantize(-128), out.dequantize(127));
    for (q, &y) in (-128i8..=127).zip(table) {
        let exact = f(zq.dequantize(q));
        let got = out.dequantize(y);
        let err = (got - exact).abs();
        if exact > highest + out.scale / 2.0 {
            assert_eq!(y, 127, "{}: q = {q}", A::NAME);
        } else if exact < lowest - out.scale / 2.0 {
            assert_eq!(y, -128, "{}: q = {q}", A::NAME);
        } else {
            assert!(err <= out.scale / 2.0 * (1.0 + 1e-12), "{}: q = {q}: {got} vs {exact}", A::NAME);
        }
    }
}

/// `z σ(z)`, a user's activation: quantized through `A::forward::<f64, 1>`.
#[derive(Clone, Copy, Debug, Default)]
struct Swish;
impl Elementwise for Swish {
    const NAME: &'static str = "Swish";
    const FORMULA: &'static str = "z / (1 + e^-z)";
    fn f<T: crate::Scalar>(z: T) -> T {
        z * Sigmoid::f(z)
    }
    fn df<T: crate::Scalar>(_: T, _: T) -> T {
        T::ONE
    }
}

fn table_of<A: Activation>(zq_range: Range, a: Range) -> (QDense<1, 1>, [i8; 256]) {
    let layer = Dense::new([[1.0f64]], [0.0]);
    let q = QDense::quantize::<f64, A>(&layer, QParams::from_range(zq_range), zq_range, a).unwrap();
    match q.activation {
        QActivation::Table(t) => (q, t),
        other => panic!("{}: {other:?}", A::NAME),
    }
}

#[test]
fn tables_are_within_half_a_step() {
    for (lo, hi) in [(-8.0, 8.0), (-0.5, 3.0), (-20.0, 1.0), (0.0, 6.0)] {
        let z = Range { lo, hi };
        let (q, t) = table_of::<Sigmoid>(z, Range::EMPTY);
        assert_eq!(q.output, QParams::SIGMOID);
        check_table::<Sigmoid>(q.z, q.output, &t, |z| 1.0 / (1.0 + (-z).exp()));
        let (q, t) = table_of::<Tanh>(z, Range::EMPTY);
        assert_eq!(q.output, QParams::TANH);
        check_table::<Tanh>(q.z, q.output, &t, f64::tanh);
        let a = Range { lo: LeakyRelu::f(lo), hi: LeakyRelu::f(hi) };
        let (q, t) = table_of::<LeakyRelu>(z, a);
        check_table::<LeakyRelu>(q.z, q.output, &t, |z| if z > 0.0 { z } else { 0.01 * z });
        let a = Range { lo: Softplus::f(lo), hi: Softplus::f(hi) };
        let (q, t) = table_of::<Softplus>(z, a);
        check_table::<Softplus>(q.z, q.output, &t, |z| z.max(0.0) + (-z.abs()).exp().ln_1p());
        let a = Range { lo: -0.28, hi: Swish::f(hi) };
        let (q, t) = table_of::<Swish>(z, a);
        check_table::<Swish>(q.z, q.output, &t, |z| z / (1.0 + (-z).exp()));
    }
    // Known entries: σ(0) = 0.5 → 0; tanh saturates at 127 (1 is 128/128).
    let (q, t) = table_of::<Sigmoid>(Range { lo: -1.0, hi: 1.0 }, Range::EMPTY);
    assert_eq!(q.z.zero_point, -1);
    assert_eq!(tables::lookup(&t, -1), 0);
    let (_, t) = table_of::<Tanh>(Range { lo: -40.0, hi: 40.0 }, Range::EMPTY);
    assert_eq!((tables::lookup(&t, 127), tables::lookup(&t, -128)), (127, -128));
}

#[test]
fn named_activations_use_libm() {
    for z in [-30.0, -2.5, -0.1, 0.0, 0.3, 4.0, 50.0] {
        assert_eq!(activation_f64::<Sigmoid>(z), 1.0 / (1.0 + libm::exp(-z)));
        assert_eq!(activation_f64::<Tanh>(z), libm::tanh(z));
        assert_eq!(activation_f64::<Softplus>(z), z.max(0.0) + libm::log1p(libm::exp(-libm::fabs(z))));
        assert_eq!(activation_f64::<LeakyRelu>(z), if z > 0.0 { z } else { 0.01 * z });
        assert_eq!(activation_f64::<Relu>(z), z.max(0.0));
        assert_eq!(activation_f64::<Identity>(z), z);
        assert_eq!(activation_f64::<Swish>(z), Swish::f(z));
    }
}

/// The float softmax of `scale · z` (the zero point cancels).
fn softmax_f64<const O: usize>(scale: f64, z: &[i8; O]) -> [f64; O] {
    let max = z.iter().copied().max().unwrap_or(0);
    let e = z.map(|z| (scale * f64::from(i16::from(z) - i16::from(max))).exp());
    let sum: f64 = e.iter().sum();
    e.map(|e| e / sum)
}

#[test]
fn softmax_is_within_the_stated_bound() {
    let mut rng = Rng::new(11);
    let bound = 1.0 / 256.0 + 1.0 / 65536.0;
    let mut worst = 0.0f64;
    for &scale in &[1.0 / 255.0, 0.01, 0.05, 8.0 / 255.0, 0.2, 1.0] {
        let exp_table = tables::exp_table(QParams { scale, zero_point: 0 });
        assert_eq!(exp_table[0], 65536);
        for trial in 0..2000 {
            let z: [i8; 10] = core::array::from_fn(|i| match (trial % 4, i) {
                (0, _) => rng.below(256) as i32 as i8, // wrapping: any byte
                (1, 0) => 127,
                (1, _) => -128,
                (2, _) => (rng.below(9) as i8) - 4, // close logits
                _ => [-128, 127][rng.below(2)],
            });
            let y = softmax(&z, &exp_table);
            let p = softmax_f64(scale, &z);
            for (&y, &p) in y.iter().zip(&p) {
                let err = (QParams::SOFTMAX.dequantize(y) - p).abs();
                worst = worst.max(err);
                assert!(err <= bound, "scale {scale}, {z:?}: {y} vs {p}");
            }
        }
    }
    assert!(worst > 0.5 / 256.0, "the saturation case was reached: {worst}");
    // A table summing to zero does not divide by zero.
    assert_eq!(softmax(&[1, 2, 3], &[0; 256]), [-128; 3]);
    assert_eq!(softmax::<0>(&[], &[0; 256]), []);
}

/// `QDense` with every field random, including out-of-range zero points, shifts and clamp bounds
/// that `quantize` never produces.
fn random_qdense<const I: usize, const O: usize>(rng: &mut Rng, activation: usize) -> QDense<I, O> {
    let mut any = |bits: u32| rng.next_u64() as i64 as i32 >> (32 - bits);
    let mut q = QDense::<I, O> {
        w: [[0; I]; O],
        b: [0; O],
        multiplier: [0; O],
        shift: [0; O],
        input: QParams { scale: 1.0, zero_point: 0 },
        z: QParams { scale: 1.0, zero_point: 0 },
        output: QParams { scale: 1.0, zero_point: 0 },
        activation: QActivation::Clamp { min: -128, max: 127 },
    };
    for w in q.w.iter_mut().flatten() {
        *w = any(8) as i8;
    }
    for ((b, m), s) in q.b.iter_mut().zip(&mut q.multiplier).zip(&mut q.shift) {
        *b = any(32);
        *m = any(32);
        *s = any(6);
    }
    q.input.zero_point = any(32);
    q.z.zero_point = any(9);
    q.output.zero_point = any(32);
    q.activation = match activation % 3 {
        0 => QActivation::Clamp { min: any(8) as i8, max: any(8) as i8 },
        1 => QActivation::Table(core::array::from_fn(|_| any(8) as i8)),
        _ => QActivation::Softmax(core::array::from_fn(|_| any(32) as u32)),
    };
    q
}

#[test]
fn forward_never_panics() {
    let mut rng = Rng::new(5);
    for trial in 0..300 {
        let big = random_qdense::<64, 32>(&mut rng, trial);
        let small = random_qdense::<32, 10>(&mut rng, trial + 1);
        let inputs = [[-128; 64], [127; 64], core::array::from_fn(|i| if i % 2 == 0 { 127 } else { -128 })];
        for x in inputs.iter().copied().chain((0..20).map(|_| core::array::from_fn(|_| rng.next_u64() as i8)))
        {
            let h = big.forward(&x);
            core::hint::black_box(small.forward(&h));
        }
    }
    // Empty layers.
    let mut rng = Rng::new(6);
    assert_eq!(random_qdense::<0, 0>(&mut rng, 2).forward(&[]), []);
    let none = random_qdense::<0, 3>(&mut rng, 0);
    core::hint::black_box(none.forward(&[]));
}

#[test]
fn quantized_classifier_agrees_with_the_float_one() {
    // 16 → 12 Relu → 5 Softmax, random weights: the argmax agrees on most inputs, and every
    // probability is within a few steps.
    let mut rng = Rng::new(21);
    let (hidden, xs, x_range, z1, a1) = calibrated::<Relu, 16, 12, 300>(&mut rng, 0.5, (0.0, 1.0));
    let mut output = Dense::<f64, 12, 5>::zeroed();
    for w in output.w.iter_mut().flatten().chain(output.b.iter_mut()) {
        *w = rng.uniform(-0.8, 0.8);
    }
    let (mut z2, mut a2) = (Range::EMPTY, Range::EMPTY);
    let float = |x: &[f64; 16]| {
        let (mut z, mut a, mut zo, mut p) = ([0.0; 12], [0.0; 12], [0.0; 5], [0.0; 5]);
        hidden.affine(x, &mut z);
        Relu::forward(&z, &mut a);
        output.affine(&a, &mut zo);
        Softmax::forward(&zo, &mut p);
        (zo, p)
    };
    for x in &xs {
        let (zo, p) = float(x);
        z2.include(&zo);
        a2.include(&p);
    }
    let input = QParams::from_range(x_range);
    let q1 = QDense::quantize::<f64, Relu>(&hidden, input, z1, a1).unwrap();
    let q2 = QDense::quantize::<f64, Softmax>(&output, q1.output, z2, a2).unwrap();
    let (mut agree, mut worst) = (0, 0.0f64);
    for x in &xs {
        let y = QParams::SOFTMAX.dequantize_all(&q2.forward(&q1.forward(&input.quantize_all(x))));
        let (_, p) = float(x);
        worst = y.iter().zip(&p).fold(worst, |w, (y, p)| w.max((y - p).abs()));
        agree += usize::from(crate::metrics::argmax(&y) == crate::metrics::argmax(&p));
    }
    assert!(worst < 0.05, "worst probability error {worst}");
    assert!(agree >= 290, "argmax agrees on {agree} of 300");
}
