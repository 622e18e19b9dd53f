//! Mini-batches of generated convolutional networks: `forward_batch::<B>` against `forward` on
//! each sample (the same bits), `backward_batch_accumulate::<B>` and
//! `train_step_batch::<B>` against `B` single samples (`forward_trace` and `backward_accumulate`
//! one after the other, then the mean gradient's SGD step), for B = 1, 3, 32 (one whole tile)
//! and 33 (a tile and one more sample), in f32 and f64.
//!
//! A batch of one gives the bits of the single sample. A larger batch gives them up to rounding,
//! as `Network::backward_batch_accumulate` documents: a convolution's weight gradient keeps its
//! accumulators in registers over the whole tile and reduces them once per batch
//! (`backprop_core::conv` grads), where sample after sample adds one reduced sum per sample.
//! The losses, summed sample by sample in both, keep their bits.

use backprop::{Init, Network, Rng, Scalar, network};

network! {
    /// 2-d: a convolution, a max pool, a strided convolution, dense layers.
    #[loss(SoftmaxCrossEntropy)]
    pub struct Image {
        input: [2, 9, 7],
        conv1: Conv2d<4, 3, Relu>,
        pool: MaxPool2d<2, stride = 1>,
        conv2: Conv2d<3, 3, Tanh, stride = 2, padding = Same>,
        hidden: Dense<6, LeakyRelu>,
        output: Dense<3, Softmax>,
    }
}

network! {
    /// 1-d: a convolution, an average pool, a global pool.
    #[loss(BinaryCrossEntropy)]
    pub struct Signal {
        input: [3, 11],
        conv: Conv1d<5, 3, Sigmoid, stride = 2>,
        pool: AvgPool1d<2, stride = 1>,
        gap: GlobalAvgPool1d,
        output: Dense<2, Sigmoid>,
    }
}

/// `B` samples: inputs in `[-1, 1)`, targets one-hot (they fit every loss).
fn samples<T: Scalar, N: Network<T>, const B: usize>(seed: u64) -> ([N::Input; B], [N::Output; B]) {
    let mut rng = Rng::new(seed);
    let trace = N::new_trace();
    let xs = core::array::from_fn(|_| {
        let mut x = *N::input_grad(&trace);
        x.as_mut().iter_mut().for_each(|v| *v = T::from_f64(rng.uniform(-1.0, 1.0)));
        x
    });
    let ts = core::array::from_fn(|k| {
        let mut t = *N::trace_output(&trace);
        let len = t.as_ref().len();
        t.as_mut()[k % len] = T::ONE;
        t
    });
    (xs, ts)
}

/// The bits of each value (in f64, which holds every f32 exactly).
fn bits<T: Scalar>(values: &[T]) -> Vec<u64> {
    values.iter().map(|v| v.to_f64().to_bits()).collect()
}

/// `got` and `want` agree to the bit for one sample, else within `64 · ε · max |want|` (ε of
/// `T`): the two orders of a sum of `B · HO · WO` products each.
fn assert_agree<T: Scalar, const B: usize>(got: &[T], want: &[T], what: &str) {
    if B == 1 {
        assert_eq!(bits(got), bits(want), "{what}");
        return;
    }
    let epsilon = if core::mem::size_of::<T>() == 4 { f64::from(f32::EPSILON) } else { f64::EPSILON };
    let scale = want.iter().fold(0.0_f64, |m, v| m.max(v.to_f64().abs()));
    let bound = 64.0 * epsilon * scale;
    assert_eq!(got.len(), want.len(), "{what}: lengths");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        let (g, w) = (g.to_f64(), w.to_f64());
        assert!((g - w).abs() <= bound, "{what}[{i}]: {g:e} vs {w:e} (bound {bound:e})");
    }
}

/// The batch methods give what `B` single samples give (see the module documentation).
fn compare<T: Scalar, N: Network<T> + PartialEq, const B: usize>(seed: u64) {
    let name = core::any::type_name::<N>();
    let net: N = Init::Auto.network(seed);
    let (xs, ts) = samples::<T, N, B>(seed + 1);
    let lr = T::from_f64(0.1);

    // Inference on the batch: the bits of `forward` on each sample.
    let outputs = net.forward_batch::<B>(&xs);
    for (s, (x, out)) in xs.iter().zip(&outputs).enumerate() {
        let want = net.forward(x);
        assert_eq!(bits(out.as_ref()), bits(want.as_ref()), "{name}, B = {B}: forward_batch, sample {s}");
    }

    let mut single = N::zeroed();
    let mut trace = N::new_trace();
    let mut single_loss = T::ZERO;
    for (x, t) in xs.iter().zip(&ts) {
        net.forward_trace(x, &mut trace);
        single_loss += net.backward_accumulate(&mut trace, t, &mut single);
    }
    let mut batch = N::zeroed();
    let batch_loss = net.backward_batch_accumulate::<B>(&xs, &ts, &mut batch);
    assert_eq!(bits(&[batch_loss]), bits(&[single_loss]), "{name}, B = {B}: the summed loss");
    assert_agree::<T, B>(batch.params(), single.params(), &format!("{name}, B = {B}: the summed gradient"));
    assert!(single.params().iter().any(|g| *g != T::ZERO), "{name}: a gradient");

    // The step on the mean gradient, unfused, sample by sample.
    let scale = T::ONE / T::from_f64(B as f64);
    single.scale(scale);
    let mut by_samples = net.clone();
    for (p, &g) in by_samples.params_mut().iter_mut().zip(single.params()) {
        *p -= lr * g;
    }
    let mut stepped = net.clone();
    let mut grads = N::zeroed();
    let mean_loss = stepped.train_step_batch::<B>(&xs, &ts, lr, &mut grads);
    assert_eq!(bits(&[mean_loss]), bits(&[single_loss * scale]), "{name}, B = {B}: the mean loss");
    assert_agree::<T, B>(grads.params(), single.params(), &format!("{name}, B = {B}: the mean gradient"));
    assert_agree::<T, B>(stepped.params(), by_samples.params(), &format!("{name}, B = {B}: the step"));
    assert!(stepped != net, "{name}: the step changed the network");
}

fn every_batch_size<T: Scalar, N: Network<T> + PartialEq>() {
    compare::<T, N, 1>(1);
    compare::<T, N, 3>(2);
    compare::<T, N, 32>(3);
    compare::<T, N, 33>(4);
}

#[test]
fn conv2d_batches_are_single_samples() {
    every_batch_size::<f32, Image<f32>>();
    every_batch_size::<f64, Image<f64>>();
}

#[test]
fn conv1d_batches_are_single_samples() {
    every_batch_size::<f32, Signal<f32>>();
    every_batch_size::<f64, Signal<f64>>();
}
