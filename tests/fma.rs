//! The `fma` feature (opt-in): an `f32` network with a layer big enough for the FMA kernels
//! (256 × 32 = 8192 multiply-adds, above `kernel::FMA_MIN`) computes what the `f64` network with
//! the same weights computes, to `f32` precision: outputs, every gradient, the fused train step
//! of one sample and of a batch. On a CPU with AVX-512F, `BACKPROP_FMA=avx2` runs the same on the
//! 256-bit path; without AVX2 and FMA the exact kernels run and this holds all the more.
//! `cargo test -p backprop --features fma` (CI runs it both ways).
#![cfg(feature = "fma")]

use backprop::{Init, Network, Params, Rng, network};

network! {
    /// Wide enough for the FMA kernels in its first layer.
    #[loss(SoftmaxCrossEntropy)]
    pub struct Wide {
        input: 256,
        hidden: Dense<32, Relu>,
        output: Dense<10, Softmax>,
    }
}

const N: usize = 8;

fn inputs(seed: u64) -> [[f64; 256]; N] {
    let mut rng = Rng::new(seed);
    core::array::from_fn(|_| core::array::from_fn(|_| rng.uniform(-1.0, 1.0)))
}

fn targets(seed: u64) -> [[f64; 10]; N] {
    let mut rng = Rng::new(seed);
    core::array::from_fn(|_| {
        let mut t = [0.0; 10];
        t[rng.below(10)] = 1.0;
        t
    })
}

fn to_f32<const D: usize>(v: &[f64; D]) -> [f32; D] {
    v.map(|v| v as f32)
}

/// The `f32` copy of an `f64` network.
fn narrowed(net: &Wide<f64>) -> Wide<f32> {
    let mut out = Wide::<f32>::zeroed();
    for (o, &p) in out.params_mut().iter_mut().zip(net.params()) {
        *o = p as f32;
    }
    out
}

/// `|a - b| ≤ tol · (1 + max |b|)` for every element.
fn assert_near(a: &[f32], b: &[f64], tol: f64, what: &str) {
    let scale = 1.0 + b.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    for (i, (&x, &y)) in a.iter().zip(b).enumerate() {
        assert!((f64::from(x) - y).abs() <= tol * scale, "{what}[{i}]: {x:e} vs {y:e}");
    }
}

#[test]
fn f32_with_fma_agrees_with_f64_to_f32_precision() {
    let wide: Wide<f64> = Init::HeNormal.network(11);
    let narrow = narrowed(&wide);
    let (xs, ts) = (inputs(1), targets(2));
    let mut trace64 = WideTrace::zeroed();
    let mut trace32 = WideTrace::zeroed();
    let (mut g64, mut g32) = (Wide::<f64>::zeroed(), Wide::<f32>::zeroed());
    for (x, t) in xs.iter().zip(&ts) {
        let y64 = wide.forward_trace(x, &mut trace64);
        let y32 = narrow.forward_trace(&to_f32(x), &mut trace32);
        assert_near(&y32, &y64, 1e-5, "output");
        assert_near(&trace32.hidden.z, &trace64.hidden.z, 1e-5, "hidden z");
        let l64 = wide.backward(&mut trace64, t, &mut g64);
        let l32 = narrow.backward(&mut trace32, &to_f32(t), &mut g32);
        assert!((f64::from(l32) - l64).abs() <= 1e-5 * (1.0 + l64), "loss {l32} vs {l64}");
        assert_near(g32.params(), g64.params(), 1e-5, "gradient");
    }
}

#[test]
fn fused_train_steps_agree_with_f64() {
    let lr = 0.05;
    let (xs, ts) = (inputs(3), targets(4));
    // One sample at a time: the fused backward and update of the first layer (`sgd`).
    let mut wide: Wide<f64> = Init::HeNormal.network(12);
    let mut narrow = narrowed(&wide);
    for (x, t) in xs.iter().zip(&ts) {
        wide.train_step(x, t, lr);
        narrow.train_step(&to_f32(x), &to_f32(t), lr as f32);
    }
    assert_near(narrow.params(), wide.params(), 1e-5, "weights after single-sample steps");

    // A batch: the batched forward (`gemm`) and the fused mean update (`gemm_outer_sgd`).
    let mut wide: Wide<f64> = Init::HeNormal.network(13);
    let mut narrow = narrowed(&wide);
    let (mut g64, mut g32) = (Wide::<f64>::zeroed(), Wide::<f32>::zeroed());
    let (xs32, ts32) = (xs.map(|x| to_f32(&x)), ts.map(|t| to_f32(&t)));
    for _ in 0..3 {
        let l64 = wide.train_step_batch::<N>(&xs, &ts, lr, &mut g64);
        let l32 = narrow.train_step_batch::<N>(&xs32, &ts32, lr as f32, &mut g32);
        assert!((f64::from(l32) - l64).abs() <= 1e-5 * (1.0 + l64), "batch loss {l32} vs {l64}");
        assert_near(g32.params(), g64.params(), 1e-5, "mean gradient");
    }
    assert_near(narrow.params(), wide.params(), 1e-5, "weights after batch steps");
}

#[test]
fn a_batch_of_one_is_the_single_sample_bit_for_bit() {
    let narrow = narrowed(&Init::HeNormal.network(14));
    let (x, t) = (to_f32(&inputs(5)[0]), to_f32(&targets(6)[0]));
    let mut alone = Wide::<f32>::zeroed();
    let mut trace = WideTrace::zeroed();
    narrow.forward_trace(&x, &mut trace);
    let loss = narrow.backward(&mut trace, &t, &mut alone);
    let mut batched = Wide::<f32>::zeroed();
    let batch_loss = narrow.backward_batch::<1>(&[x], &[t], &mut batched);
    assert_eq!(loss.to_bits(), batch_loss.to_bits());
    assert_eq!(alone.params(), batched.params());
}
