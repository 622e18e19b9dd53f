//! Mini-batches with the batch size as a const generic: the loss of a batch is the mean of its
//! samples' losses, its gradient the mean of their gradients, and gradients accumulate across
//! calls, all to 1e-12 in f64.

use backprop::{Init, Network, Params, Rng, network};

network! {
    /// A small network with every kind of layer the batch code must go through.
    #[loss(SoftmaxCrossEntropy)]
    pub struct Net {
        input: 5,
        first: Dense<7, Tanh>,
        second: Dense<6, Relu>,
        output: Dense<4, Softmax>,
    }
}

const N: usize = 12;

/// Random inputs and random probability-distribution targets (soft labels, not one-hot, so that
/// every output gets a gradient).
fn data(seed: u64) -> ([[f64; 5]; N], [[f64; 4]; N]) {
    let mut rng = Rng::new(seed);
    let xs = core::array::from_fn(|_| core::array::from_fn(|_| rng.uniform(-2.0, 2.0)));
    let ts = core::array::from_fn(|_| {
        let raw: [f64; 4] = core::array::from_fn(|_| rng.next_f64() + 0.01);
        let sum: f64 = raw.iter().sum();
        raw.map(|r| r / sum)
    });
    (xs, ts)
}

fn assert_close(a: &[f64], b: &[f64], what: &str) {
    assert_eq!(a.len(), b.len());
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        assert!((x - y).abs() <= 1e-12, "{what}[{i}]: {x:e} vs {y:e}");
    }
}

/// The per-sample reference: `backward` on each sample, the mean taken here.
fn per_sample_mean(net: &Net<f64>, xs: &[[f64; 5]], ts: &[[f64; 4]]) -> (f64, Net<f64>) {
    let mut mean = Net::zeroed();
    let mut one = Net::zeroed();
    let mut trace = NetTrace::zeroed();
    let mut loss = 0.0;
    for (x, t) in xs.iter().zip(ts) {
        net.forward_trace(x, &mut trace);
        loss += net.backward(&mut trace, t, &mut one);
        for (m, g) in mean.params_mut().iter_mut().zip(one.params()) {
            *m += g;
        }
    }
    let n = xs.len() as f64;
    for m in mean.params_mut() {
        *m /= n;
    }
    (loss / n, mean)
}

#[test]
fn batch_loss_is_the_mean_and_gradient_the_mean_gradient() {
    let net: Net<f64> = Init::XavierNormal.network(3);
    let (xs, ts) = data(4);
    let (want_loss, want_grads) = per_sample_mean(&net, &xs, &ts);

    let mut grads = Net::zeroed();
    grads.params_mut().fill(123.0); // written, not added to
    let loss = net.backward_batch::<N>(&xs, &ts, &mut grads);
    assert!((loss - want_loss).abs() <= 1e-12, "{loss} vs {want_loss}");
    assert_close(grads.params(), want_grads.params(), "batch gradient");

    // The loss is the mean of the per-sample losses computed by `loss`, too.
    let direct: f64 = xs.iter().zip(&ts).map(|(x, t)| net.loss(x, t)).sum::<f64>() / N as f64;
    assert!((loss - direct).abs() <= 1e-12);

    // B = 1 is `backward`; B = 0 does not compile (a `compile_fail` example of `backward_batch`).
    let mut g1 = Net::zeroed();
    let l1 = net.backward_batch::<1>(&[xs[0]], &[ts[0]], &mut g1);
    let (l_ref, g_ref) = per_sample_mean(&net, &xs[..1], &ts[..1]);
    assert_eq!(l1, l_ref);
    assert_close(g1.params(), g_ref.params(), "B = 1");
}

#[test]
fn gradients_accumulate_across_calls() {
    let net: Net<f64> = Init::HeNormal.network(5);
    let (xs, ts) = data(6);
    let (want_loss, want_grads) = per_sample_mean(&net, &xs, &ts);

    // 12 samples as batches of 5, 4 and 3, accumulated, then divided by 12.
    let mut grads = Net::zeroed();
    let mut total = 0.0;
    total += net.backward_batch_accumulate::<5>(
        xs[0..5].try_into().unwrap(),
        ts[0..5].try_into().unwrap(),
        &mut grads,
    );
    total += net.backward_batch_accumulate::<4>(
        xs[5..9].try_into().unwrap(),
        ts[5..9].try_into().unwrap(),
        &mut grads,
    );
    total += net.backward_batch_accumulate::<3>(
        xs[9..].try_into().unwrap(),
        ts[9..].try_into().unwrap(),
        &mut grads,
    );
    grads.scale(1.0 / N as f64);
    assert!((total / N as f64 - want_loss).abs() <= 1e-12);
    assert_close(grads.params(), want_grads.params(), "accumulated gradient");

    // The same as one batch of 12.
    let mut whole = Net::zeroed();
    net.backward_batch::<N>(&xs, &ts, &mut whole);
    assert_close(grads.params(), whole.params(), "accumulated vs whole batch");
}

#[test]
fn a_batch_step_is_sgd_on_the_mean_gradient() {
    let net: Net<f64> = Init::XavierUniform.network(8);
    let (xs, ts) = data(9);
    let (want_loss, mean) = per_sample_mean(&net, &xs, &ts);
    let mut stepped = net.clone();
    let mut scratch = Net::zeroed();
    let loss = stepped.train_step_batch::<N>(&xs, &ts, 0.5, &mut scratch);
    assert!((loss - want_loss).abs() <= 1e-12);
    let expected: Vec<f64> = net.params().iter().zip(mean.params()).map(|(p, g)| p - 0.5 * g).collect();
    assert_close(stepped.params(), &expected, "parameters after the step");
}

network! {
    /// Big enough for the outlined kernels (and, with `fma`, the FMA ones) in its first layer,
    /// with sizes that leave remainders of every tile.
    #[loss(SoftmaxCrossEntropy)]
    pub struct Wide {
        input: 300,
        hidden: Dense<37, Relu>,
        output: Dense<9, Softmax>,
    }
}

/// `forward_batch` gives the bits of `forward` on each input: batches below, at and above one
/// tile of `BATCH_TILE` samples, in `f32` and `f64`, and the trait's default (one `forward` per
/// input) the same.
#[test]
fn forward_batch_is_forward_on_each_input_bit_for_bit() {
    fn check<T: backprop::Scalar, const B: usize>(seed: u64) {
        let net: Wide<T> = Init::Auto.network(seed);
        let mut rng = Rng::new(seed + 1);
        let xs: Box<[[T; 300]; B]> =
            Box::new(core::array::from_fn(|_| core::array::from_fn(|_| T::from_f64(rng.uniform(-1.0, 2.0)))));
        let batch = net.forward_batch(&xs);
        let by_trait = <Wide<T> as Network<T>>::forward_batch(&net, &xs);
        for (s, x) in xs.iter().enumerate() {
            let single = net.forward(x).map(|v| v.to_f64().to_bits());
            assert_eq!(batch[s].map(|v| v.to_f64().to_bits()), single, "{} sample {s} of {B}", T::NAME);
            assert_eq!(by_trait[s].map(|v| v.to_f64().to_bits()), single);
        }
        let small: Net<T> = Init::Auto.network(seed);
        let ys: [[T; 5]; B] =
            core::array::from_fn(|s| core::array::from_fn(|i| T::from_f64((s * 5 + i) as f64 * 0.01)));
        for (y, out) in ys.iter().zip(small.forward_batch(&ys)) {
            assert_eq!(out, small.forward(y));
        }
    }
    check::<f32, 1>(1);
    check::<f32, 7>(2);
    check::<f32, 32>(3);
    check::<f32, 33>(4);
    check::<f32, 70>(5);
    check::<f64, 32>(6);
    check::<f64, 45>(7);
}
