//! `train_steps`: single-sample SGD over a sequence, with a large first layer's weight updates
//! deferred (`backprop::deferred`), against `train_step` one sample at a time, on MNIST digits.

#[path = "../examples/common/mod.rs"]
mod common;

use backprop::{Init, Network, Params, Rng, Scalar, boxed_zeroed, deferred, network};

network! {
    /// W4 of the benchmarks: the first layer (784 × 128) is large enough to be deferred.
    #[loss(SoftmaxCrossEntropy)]
    pub struct Mnist { input: 784, hidden: Dense<128, Relu>, output: Dense<10, Softmax> }
}

network! {
    /// A three-layer network with a deferred first layer and sigmoid hidden layers.
    #[loss(SoftmaxCrossEntropy)]
    pub struct Deep { input: 784, first: Dense<64, Sigmoid>, second: Dense<32, Tanh>, output: Dense<10, Softmax> }
}

network! {
    /// The chapter's toy network: far too small to defer anything.
    #[loss(HalfSquaredError)]
    pub struct Toy { input: 2, hidden: Dense<2, Sigmoid>, output: Dense<1, Sigmoid> }
}

/// The first `n` digits of the bundled MNIST sample, in `T`.
fn digits<T: Scalar>(n: usize) -> (Vec<[T; 784]>, Vec<[T; 10]>) {
    let data = common::load_mnist().expect("the bundled MNIST sample loads");
    let convert = |v: &[f32]| -> Vec<T> { v.iter().map(|&x| T::from_f64(f64::from(x))).collect() };
    let inputs = data.inputs[..n].iter().map(|x| convert(x).try_into().unwrap()).collect();
    let targets = data.targets[..n].iter().map(|t| convert(t).try_into().unwrap()).collect();
    (inputs, targets)
}

/// A network initialised from `seed`, on the heap; the same weights in `f32` and `f64`.
fn network<T: Scalar, N: Network<T>>(seed: u64) -> Box<N> {
    let mut net = boxed_zeroed::<T, N>();
    Init::Auto.apply(&mut *net, &mut Rng::new(seed));
    net
}

/// A copy on the heap (`Box::clone` would build the 813 kB `f64` network on the stack first).
fn boxed_copy<T: Scalar, N: Network<T>>(net: &N) -> Box<N> {
    let mut copy = boxed_zeroed::<T, N>();
    copy.params_mut().copy_from_slice(net.params());
    copy
}

/// `steps` SGD steps through `train_steps` and through `train_step` one by one, from the same
/// weights; both networks and both sums of losses.
fn both<T: Scalar, N: Network<T, Input = [T; 784], Output = [T; 10]>>(
    steps: usize,
    lr: T,
) -> ((Box<N>, T), (Box<N>, T)) {
    let (xs, ts) = digits::<T>(steps);
    let mut sequence = network::<T, N>(7);
    let mut one_by_one = boxed_copy(&*sequence);
    let total = sequence.train_steps(xs.iter().zip(&ts), lr);
    let mut plain_total = T::ZERO;
    for (x, t) in xs.iter().zip(&ts) {
        plain_total += one_by_one.train_step(x, t, lr);
    }
    ((sequence, total), (one_by_one, plain_total))
}

/// The largest difference between two parameter vectors, relative to the largest parameter.
fn max_relative_difference<T: Scalar>(a: &[T], b: &[T]) -> f64 {
    let scale = b.iter().fold(0.0f64, |m, p| m.max(p.to_f64().abs()));
    a.iter().zip(b).fold(0.0f64, |m, (x, y)| m.max((x.to_f64() - y.to_f64()).abs())) / scale
}

#[test]
fn the_first_layer_of_w4_is_deferred_and_a_small_one_is_not() {
    assert_eq!(deferred::deferred_steps(784, 128), deferred::DEFER_STEPS);
    assert_eq!(deferred::deferred_steps(784, 64), deferred::DEFER_STEPS);
    assert_eq!(deferred::deferred_steps(2, 2), 0);
}

#[test]
fn deferred_steps_follow_the_one_by_one_trajectory_in_f64() {
    // 75 steps: four full rounds of 16 deferred updates and 11 applied at the end.
    let ((seq, total), (plain, plain_total)) = both::<f64, Mnist<f64>>(75, 0.05);
    let difference = max_relative_difference(seq.params(), plain.params());
    assert!(difference < 1e-12, "parameters differ by {difference:e} of the largest");
    assert!((total - plain_total).abs() < 1e-11 * plain_total, "{total} vs {plain_total}");
    // The network learned something, and the deferral did change the rounding (the test would
    // check nothing if the deferred path were not taken).
    assert!(seq.params() != plain.params());
    let (xs, ts) = digits::<f64>(75);
    let before = network::<f64, Mnist<f64>>(7);
    let loss = |n: &Mnist<f64>| xs.iter().zip(&ts).map(|(x, t)| n.loss(x, t)).sum::<f64>();
    assert!(loss(&seq) < 0.5 * loss(&before), "{} vs {}", loss(&seq), loss(&before));

    let ((seq, _), (plain, _)) = both::<f64, Deep<f64>>(40, 0.1);
    let difference = max_relative_difference(seq.params(), plain.params());
    assert!(difference < 1e-12, "Deep: parameters differ by {difference:e} of the largest");
}

#[test]
fn in_f32_deferred_steps_are_as_accurate_as_one_by_one() {
    // Against the same steps in f64: the deferred f32 run is no further from them than the
    // one-by-one f32 run is, up to a factor for the different rounding, and both are close.
    let ((seq, _), (plain, _)) = both::<f32, Mnist<f32>>(48, 0.05);
    let ((_, _), (reference, _)) = both::<f64, Mnist<f64>>(48, 0.05);
    let reference: Vec<f64> = reference.params().to_vec();
    let as_f64 = |p: &[f32]| -> Vec<f64> { p.iter().map(|&v| f64::from(v)).collect() };
    let deferred_error = max_relative_difference(&as_f64(seq.params()), &reference);
    let plain_error = max_relative_difference(&as_f64(plain.params()), &reference);
    assert!(deferred_error < 1e-5, "deferred f32 vs f64: {deferred_error:e}");
    assert!(deferred_error < 4.0 * plain_error.max(1e-7), "{deferred_error:e} vs {plain_error:e}");
}

#[test]
fn without_deferral_train_steps_is_train_step_bit_for_bit() {
    let samples = [([0.0f32, 0.0], [0.0f32]), ([0.0, 1.0], [1.0]), ([1.0, 0.0], [1.0]), ([1.0, 1.0], [0.0])];
    let mut seq = Toy::new(
        backprop::Dense::new([[0.5, -0.3], [0.8, 0.2]], [0.1, -0.1]),
        backprop::Dense::new([[1.0, -1.0]], [0.1]),
    );
    let mut plain = seq.clone();
    for _ in 0..50 {
        let total = seq.train_steps(samples.iter().map(|(x, t)| (x, t)), 0.5);
        let plain_total: f32 = samples.iter().map(|(x, t)| plain.train_step(x, t, 0.5)).sum();
        assert_eq!(total.to_bits(), plain_total.to_bits());
    }
    assert_eq!(seq, plain);
}

#[test]
fn an_empty_sequence_changes_nothing() {
    let mut net = network::<f32, Mnist<f32>>(3);
    let before = boxed_copy(&*net);
    assert_eq!(net.train_steps(core::iter::empty(), 0.1), 0.0);
    assert!(*net == *before);
}

#[test]
fn the_pending_updates_are_applied_when_the_sequence_panics() {
    // A data source that fails after 20 samples (16 applied in a round, 4 pending): the network
    // must hold all 20 steps, as after 20 calls of `train_step`.
    let (xs, ts) = digits::<f64>(20);
    let mut net = network::<f64, Mnist<f64>>(5);
    let mut plain = boxed_copy(&*net);
    for (x, t) in xs.iter().zip(&ts) {
        plain.train_step(x, t, 0.05);
    }
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let failing = xs.iter().zip(&ts).chain(std::iter::from_fn(|| panic!("the data source failed")));
        net.train_steps(failing, 0.05)
    }));
    assert!(result.is_err());
    let difference = max_relative_difference(net.params(), plain.params());
    assert!(difference < 1e-12, "{difference:e}: the pending updates were lost");
}

#[test]
fn generic_code_reaches_the_generated_train_steps() {
    fn through_the_trait<N: Network<f64, Input = [f64; 784], Output = [f64; 10]>>(
        net: &mut N,
        xs: &[[f64; 784]],
        ts: &[[f64; 10]],
    ) -> f64 {
        net.train_steps(xs.iter().zip(ts), 0.05)
    }
    let (xs, ts) = digits::<f64>(17);
    let mut generic = network::<f64, Mnist<f64>>(9);
    let mut inherent = boxed_copy(&*generic);
    let a = through_the_trait(&mut *generic, &xs, &ts);
    let b = inherent.train_steps(xs.iter().zip(&ts), 0.05);
    assert_eq!(a.to_bits(), b.to_bits());
    assert!(*generic == *inherent);
}
