//! Both hand-written baselines compute what the generated networks compute: from the same weights,
//! the same outputs, the same losses and the same weights after a train step, for every workload,
//! to a tight tolerance in `f32` (the implementations differ in summation order, in `exp` and
//! `tanh` (`std`'s against `libm`'s) and, in the native build, in FMA contraction).
//!
//! Besides the updated weights (relative error 1e-5), the updates themselves (`new - old`) are
//! compared at 1e-4 of the largest update, at the benchmark's learning rate and at `lr = 1`: with
//! `lr = 0.01` a wrong gradient would barely move the weights, and the second check would still
//! see it.

use backprop::Network;
use backprop_bench::baseline::{Baseline, accum, straight};
use backprop_bench::nets;
use backprop_bench::workload::{
    BATCH, DATA_SEED, LR, SAMPLES, SEQUENCE, Zeroable, boxed_zeroed, data, generated,
};

/// `|got_i - want_i| <= rtol · (|want_i| + max_j |want_j|)`: relative, with an absolute floor
/// at the scale of the whole vector (so entries that are zero up to rounding compare sensibly).
fn assert_close(what: &str, want: &[f32], got: &[f32], rtol: f32) {
    assert_eq!(want.len(), got.len(), "{what}: lengths");
    let scale = want.iter().fold(0.0f32, |m, v| m.max(v.abs()));
    assert!(scale.is_finite(), "{what}: not finite");
    for (i, (w, g)) in want.iter().zip(got).enumerate() {
        let tol = rtol * (w.abs() + scale);
        assert!((w - g).abs() <= tol, "{what}[{i}]: generated {w:e}, baseline {g:e} (tolerance {tol:e})");
    }
}

fn diff(after: &[f32], before: &[f32]) -> Vec<f32> {
    after.iter().zip(before).map(|(a, b)| a - b).collect()
}

/// Runs every check for one workload and one baseline type.
fn check<N, B, const I: usize, const O: usize>(name: &str)
where
    N: Network<f32, Input = [f32; I], Output = [f32; O]> + Zeroable,
    B: Baseline<I, O>,
{
    let reference = generated::<N>();
    let start = reference.params().to_vec();
    let load = || {
        let mut net = boxed_zeroed::<B>();
        net.load(&start);
        assert_eq!(net.params(), start, "{name}: load/params round trip");
        net
    };
    let (xs, ts) = data::<I, O, SAMPLES>(DATA_SEED);
    let baseline = load();
    for (k, x) in xs.iter().enumerate() {
        assert_close(&format!("{name} forward #{k}"), &reference.forward(x), &baseline.forward(x), 1e-5);
    }

    for lr in [LR, 1.0] {
        // Three consecutive steps on different samples: the second and third start from updated
        // weights, which must still agree.
        let mut gen_net = generated::<N>();
        let mut base = load();
        let mut grads = boxed_zeroed::<B>();
        for k in 0..3 {
            let before = gen_net.params().to_vec();
            let want = gen_net.train_step(&xs[k], &ts[k], lr);
            let got = base.train_step(&xs[k], &ts[k], lr, &mut grads);
            let what = format!("{name} train step {k}, lr {lr}");
            assert_close(&format!("{what}: loss"), &[want], &[got], 1e-5);
            let (gen_after, base_after) = (gen_net.params().to_vec(), base.params());
            assert_close(&format!("{what}: weights"), &gen_after, &base_after, 1e-5);
            let (gen_update, base_update) = (diff(&gen_after, &before), diff(&base_after, &before));
            assert!(gen_update.iter().any(|&u| u != 0.0), "{what}: nothing moved");
            assert_close(&format!("{what}: update"), &gen_update, &base_update, 1e-4);
            // Continue both from the same (generated) weights, so errors cannot compound.
            base.load(&gen_after);
        }
    }
}

/// The mini-batch step of W4: mean loss, one update per batch.
fn check_batch<N, B, const I: usize, const O: usize>(name: &str)
where
    N: Network<f32, Input = [f32; I], Output = [f32; O]> + Zeroable,
    B: Baseline<I, O>,
{
    let (xs, ts) = data::<I, O, BATCH>(DATA_SEED);
    for lr in [LR, 1.0] {
        let mut gen_net = generated::<N>();
        let before = gen_net.params().to_vec();
        let mut gen_grads = boxed_zeroed::<N>();
        let want = gen_net.train_step_batch::<BATCH>(&xs, &ts, lr, &mut gen_grads);
        let mut base = boxed_zeroed::<B>();
        base.load(&before);
        let mut grads = boxed_zeroed::<B>();
        let got = base.train_step_batch::<BATCH>(&xs, &ts, lr, &mut grads);
        let what = format!("{name} batch {BATCH}, lr {lr}");
        assert_close(&format!("{what}: loss"), &[want], &[got], 1e-5);
        let (gen_after, base_after) = (gen_net.params().to_vec(), base.params());
        assert_close(&format!("{what}: weights"), &gen_after, &base_after, 1e-5);
        let (gen_update, base_update) = (diff(&gen_after, &before), diff(&base_after, &before));
        assert_close(&format!("{what}: update"), &gen_update, &base_update, 1e-4);
    }
}

/// The sequence workload of W4: `train_steps` over [`SEQUENCE`] samples (the first layer's
/// updates deferred) against the baseline's `train_step` on each in turn.
fn check_sequence<N, B, const I: usize, const O: usize>(name: &str)
where
    N: Network<f32, Input = [f32; I], Output = [f32; O]> + Zeroable,
    B: Baseline<I, O>,
{
    let (xs, ts) = data::<I, O, SEQUENCE>(DATA_SEED);
    for lr in [LR, 1.0] {
        let mut gen_net = generated::<N>();
        let before = gen_net.params().to_vec();
        let want = gen_net.train_steps(xs.iter().zip(ts.iter()), lr);
        let mut base = boxed_zeroed::<B>();
        base.load(&before);
        let mut grads = boxed_zeroed::<B>();
        let got = xs.iter().zip(ts.iter()).map(|(x, t)| base.train_step(x, t, lr, &mut grads)).sum::<f32>();
        let what = format!("{name} {SEQUENCE} steps, lr {lr}");
        assert_close(&format!("{what}: summed loss"), &[want], &[got], 1e-4);
        let (gen_after, base_after) = (gen_net.params().to_vec(), base.params());
        assert_close(&format!("{what}: weights"), &gen_after, &base_after, 1e-4);
        let (gen_update, base_update) = (diff(&gen_after, &before), diff(&base_after, &before));
        assert_close(&format!("{what}: update"), &gen_update, &base_update, 1e-3);
    }
}

#[test]
fn w1_toy() {
    check::<nets::Toy, straight::Toy, 2, 1>("W1 straight");
    check::<nets::Toy, accum::Toy, 2, 1>("W1 accum");
}

#[test]
fn w2_xor() {
    check::<nets::Xor, straight::Xor, 2, 1>("W2 straight");
    check::<nets::Xor, accum::Xor, 2, 1>("W2 accum");
}

#[test]
fn w3_digits() {
    check::<nets::Digits, straight::Digits, 64, 10>("W3 straight");
    check::<nets::Digits, accum::Digits, 64, 10>("W3 accum");
}

#[test]
fn w4_mnist() {
    check::<nets::Mnist, straight::Mnist, 784, 10>("W4 straight");
    check::<nets::Mnist, accum::Mnist, 784, 10>("W4 accum");
    check_batch::<nets::Mnist, straight::Mnist, 784, 10>("W4 straight");
    check_batch::<nets::Mnist, accum::Mnist, 784, 10>("W4 accum");
    check_sequence::<nets::Mnist, straight::Mnist, 784, 10>("W4 straight");
    check_sequence::<nets::Mnist, accum::Mnist, 784, 10>("W4 accum");
}

#[test]
fn w5_deep() {
    check::<nets::Deep, straight::Deep, 16, 1>("W5 straight");
    check::<nets::Deep, accum::Deep, 16, 1>("W5 accum");
}

/// A baseline with a deliberate mistake fails the checks: the tolerance is not vacuous.
#[test]
#[should_panic(expected = "update")]
fn a_wrong_gradient_is_caught() {
    use backprop_bench::baseline::act::{Hidden, Relu, SoftmaxCrossEntropy};
    use backprop_bench::baseline::{Mlp2, straight::Straight};

    /// Relu whose derivative is off by 0.1% for positive inputs.
    struct AlmostRelu;
    impl Hidden for AlmostRelu {
        fn f(z: f32) -> f32 {
            Relu::f(z)
        }
        fn df(z: f32, a: f32) -> f32 {
            Relu::df(z, a) * 1.001
        }
    }
    check::<nets::Digits, Mlp2<Straight, AlmostRelu, SoftmaxCrossEntropy, 64, 32, 10>, 64, 10>("W3 wrong");
}
