//! The tile of a network's batched methods (`BATCH_TILE`): 32 samples, or fewer for networks
//! whose layers are so wide that 32 samples of `z`, `a` and `delta` would not fit a thread's
//! stack. A wide convolutional network runs its batched methods on a spawned thread of 1 MiB in
//! `f32` and of 2 MiB (Rust's default) in `f64` (a tile of 32 would put 5 and 10 MB on it), with
//! the same outputs as `forward` on each sample and the gradient of the samples one by one, over
//! several tiles and a partial last one.

use backprop::kernel::{BATCH_TILE, TILE_SCALARS, batch_tile};
use backprop::{Init, Network, Params, Rng, Scalar, network};

network! {
    /// 16 × 26 × 26 values per sample after the convolution: 40,590 scalars of tiles per sample.
    #[loss(SoftmaxCrossEntropy)]
    pub struct Wide {
        input: [1, 28, 28],
        conv: Conv2d<16, 3, Relu>,
        pool: MaxPool2d<2>,
        output: Dense<10, Softmax>,
    }
}

network! {
    #[loss(SoftmaxCrossEntropy)]
    pub struct Mnist { input: 784, hidden: Dense<128, Relu>, output: Dense<10, Softmax> }
}

/// Scalars of one sample at the outputs of `Wide`'s layers.
const WIDE_SCALARS: usize = 16 * 26 * 26 + 16 * 13 * 13 + 10;

#[test]
fn the_tile_keeps_every_layer_tile_within_the_budget() {
    assert_eq!(Mnist::<f32>::BATCH_TILE, BATCH_TILE);
    assert_eq!(Wide::<f32>::BATCH_TILE, batch_tile(WIDE_SCALARS));
    assert_eq!(Wide::<f64>::BATCH_TILE, 3);
    // Checked as the crate compiles: the tile fits, and one more sample would not.
    const { assert!(3 * Wide::<f32>::BATCH_TILE * WIDE_SCALARS <= TILE_SCALARS) };
    const { assert!(3 * (Wide::<f32>::BATCH_TILE + 1) * WIDE_SCALARS > TILE_SCALARS) };
    // The bytes the tiles take: `z`, `a`, `delta` and a length per layer.
    let len = size_of::<usize>();
    assert_eq!(Mnist::<f32>::BATCH_BYTES, 3 * 32 * (128 + 10) * 4 + 2 * len);
    assert_eq!(Wide::<f64>::BATCH_BYTES, 3 * 3 * WIDE_SCALARS * 8 + 3 * len);
    assert!(Wide::<f32>::BATCH_BYTES <= TILE_SCALARS * 4 + 3 * len);
    // Multiples of 4 (the batched kernels' tile of samples) from 4 up; never 0.
    for scalars in [1, 138, 1_000, 1_500, 2_000, 5_000, 10_000, 11_000, 40_000, 50_000, 1 << 30] {
        let tile = batch_tile(scalars);
        assert!((1..=BATCH_TILE).contains(&tile), "{scalars}: {tile}");
        assert!(tile < 4 || tile.is_multiple_of(4), "{scalars}: {tile}");
        assert!(tile == 1 || 3 * tile * scalars <= TILE_SCALARS, "{scalars}: {tile}");
    }
}

/// What `Wide`'s batched methods give on 32 samples (10 tiles of 3, then 2).
struct Batched<T: Scalar> {
    outputs: Box<[[T; 10]; B]>,
    loss: T,
    grads: Box<Wide<T>>,
    stepped: Box<Wide<T>>,
}

const B: usize = 32;

/// `net`'s batched methods on `xs` and `ts`, run on a thread of `stack` bytes.
fn batched_on_thread<T: Scalar>(
    stack: usize,
    net: &Wide<T>,
    xs: &[[T; 784]; B],
    ts: &[[T; 10]; B],
) -> Batched<T> {
    let (mut net, xs, ts) = (Box::new(net.clone()), Box::new(*xs), Box::new(*ts));
    let run = move || {
        let outputs = Box::new(net.forward_batch(&xs));
        let mut grads: Box<Wide<T>> = backprop::boxed_zeroed();
        let loss = net.backward_batch_accumulate(&xs, &ts, &mut grads);
        // A step on a batch of more than one tile (unfused), then on one tile (fused).
        let mut scratch: Box<Wide<T>> = backprop::boxed_zeroed();
        net.train_step_batch(&xs, &ts, T::from_f64(0.01), &mut scratch);
        let tile: &[[T; 784]; 3] = xs[..3].try_into().expect("3 samples");
        net.train_step_batch(tile, ts[..3].try_into().expect("3 targets"), T::from_f64(0.01), &mut scratch);
        Batched { outputs, loss, grads, stepped: net }
    };
    std::thread::Builder::new().stack_size(stack).spawn(run).expect("spawn").join().expect("the thread ran")
}

#[test]
fn a_wide_network_runs_its_batches_on_a_small_thread() {
    // 1 MiB for `f32` (512 KiB of tiles); Rust's default 2 MiB for a spawned thread for `f64`.
    // The references, one sample at a time, run on a thread of 64 MiB: a trace of this network
    // is 169 KB in `f32`, and a debug build copies it.
    let references = std::thread::Builder::new().stack_size(64 << 20);
    let run = || {
        compare::<f32>(1 << 20, 1e-5);
        compare::<f64>(2 << 20, 1e-12);
    };
    references.spawn(run).expect("spawn").join().expect("the comparisons hold");
}

/// The batched methods against the samples one by one, within `tolerance` (relative).
fn compare<T: Scalar>(stack: usize, tolerance: f64) {
    let mut rng = Rng::new(11);
    let mut net: Box<Wide<T>> = backprop::boxed_zeroed();
    Init::Auto.apply(&mut *net, &mut rng);
    let xs: Box<[[T; 784]; B]> =
        Box::new(core::array::from_fn(|_| core::array::from_fn(|_| T::from_f64(rng.uniform(-1.0, 1.0)))));
    let ts: [[T; 10]; B] =
        core::array::from_fn(|s| core::array::from_fn(|k| T::from_f64(f64::from(k == s % 10))));
    let batched = batched_on_thread(stack, &net, &xs, &ts);

    // Inference: the bits of `forward`, tile after tile.
    for (x, y) in xs.iter().zip(batched.outputs.iter()) {
        assert_eq!(&net.forward(x), y);
    }
    // The summed gradient: sample by sample, the same within rounding.
    let (mut single, mut trace) = (backprop::boxed_zeroed::<T, Wide<T>>(), Wide::<T>::new_trace());
    let mut loss = T::ZERO;
    for (x, t) in xs.iter().zip(&ts) {
        net.forward_trace(x, &mut trace);
        loss += net.backward_accumulate(&mut trace, t, &mut single);
    }
    let near = |a: T, b: T, scale: f64| (a.to_f64() - b.to_f64()).abs() <= tolerance * scale;
    assert!(near(batched.loss, loss, loss.to_f64().abs()), "{:?} vs {loss:?}", batched.loss);
    let scale = single.params().iter().fold(0.0f64, |m, g| m.max(g.to_f64().abs()));
    for (b, s) in batched.grads.params().iter().zip(single.params()) {
        assert!(near(*b, *s, scale), "{b:?} vs {s:?}");
    }
    // The two steps moved the parameters, to finite values.
    assert!(batched.stepped.params().iter().zip(net.params()).any(|(p, b)| p != b));
    assert!(batched.stepped.params().iter().all(|p| p.to_f64().is_finite()));
}
