//! The LeNet benchmark's two implementations compute the same thing: the network `network!`
//! generates and the hand-written direct convolution, from the same
//! parameters, agree on inference, on one sample's SGD step and on a mini-batch step, within the
//! rounding of `f32` sums taken in different orders.

use backprop::{Network, Params};
use backprop_bench::lenet::{self, BATCH, direct, net};
use backprop_bench::workload::{DATA_SEED, LR, WEIGHT_SEED, boxed_zeroed};

/// Both networks from the same parameters, each with its gradient scratch.
fn networks() -> (Box<net::LeNet>, Box<net::LeNet>, Box<direct::LeNet>, Box<direct::LeNet>) {
    let params = lenet::initial_params(WEIGHT_SEED);
    let (mut generated, grads) = (boxed_zeroed::<net::LeNet>(), boxed_zeroed::<net::LeNet>());
    generated.params_mut().copy_from_slice(&params);
    let (mut hand, hand_grads) = (boxed_zeroed::<direct::LeNet>(), boxed_zeroed::<direct::LeNet>());
    hand.load(&params);
    (generated, grads, hand, hand_grads)
}

/// The parameters of the hand-written network, in the order of `backprop::Params`.
fn hand_params(hand: &direct::LeNet) -> Vec<f32> {
    let mut out = Vec::new();
    for (w, b) in [
        (hand.conv1.w.as_flattened().as_flattened().as_flattened(), &hand.conv1.b[..]),
        (hand.conv2.w.as_flattened().as_flattened().as_flattened(), &hand.conv2.b[..]),
        (hand.fc1.w.as_flattened(), &hand.fc1.b[..]),
        (hand.fc2.w.as_flattened(), &hand.fc2.b[..]),
        (hand.output.w.as_flattened(), &hand.output.b[..]),
    ] {
        out.extend_from_slice(w);
        out.extend_from_slice(b);
    }
    assert_eq!(out.len(), <net::LeNet as Params<f32>>::LEN);
    out
}

/// `a` and `b` agree within `tolerance`, absolutely (every value here is of order one or less).
fn close(what: &str, a: &[f32], b: &[f32], tolerance: f32) {
    assert_eq!(a.len(), b.len(), "{what}: lengths");
    let worst = a.iter().zip(b).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
    assert!(worst <= tolerance, "{what}: differ by up to {worst:e}");
}

/// Runs `f` with a stack for the tiles of 32 samples the hand-written network and the conv
/// layers' share keep (about 2.2 MB).
fn with_big_stack(f: impl FnOnce() + Send + 'static) {
    std::thread::Builder::new().stack_size(64 << 20).spawn(f).expect("a thread").join().expect("no panic");
}

#[test]
fn inference_agrees() {
    let (generated, _, hand, _) = networks();
    let (xs, _) = lenet::images::<8>(DATA_SEED);
    for x in xs.iter() {
        close("probabilities", &generated.forward(x), &hand.forward(x), 1e-5);
    }
}

#[test]
fn one_sample_steps_agree() {
    let (mut generated, _, mut hand, mut hand_grads) = networks();
    let (xs, ts) = lenet::images::<4>(DATA_SEED);
    for (x, t) in xs.iter().zip(ts.iter()) {
        let (a, b) = (generated.train_step(x, t, LR), hand.train_step(x, t, LR, &mut hand_grads));
        assert!((a - b).abs() <= 1e-5 * (1.0 + a.abs()), "losses {a} and {b}");
    }
    close("parameters after four steps", generated.params(), &hand_params(&hand), 1e-5);
    assert!(generated.params() != lenet::initial_params(WEIGHT_SEED), "the steps changed nothing");
}

#[test]
fn batch_steps_agree() {
    with_big_stack(|| {
        let (mut generated, mut grads, mut hand, mut hand_grads) = networks();
        let (xs, ts) = lenet::images::<BATCH>(DATA_SEED);
        for _ in 0..2 {
            let a = generated.train_step_batch(&xs, &ts, LR, &mut grads);
            let b = hand.train_step_batch(&xs, &ts, LR, &mut hand_grads);
            assert!((a - b).abs() <= 1e-5 * (1.0 + a.abs()), "mean losses {a} and {b}");
        }
        close("parameters after two batch steps", generated.params(), &hand_params(&hand), 1e-5);
    });
}

#[test]
fn the_conv_layers_step_is_the_batch_steps_share() {
    with_big_stack(|| {
        let (generated, _, _, _) = networks();
        let (xs, ts) = lenet::images::<BATCH>(DATA_SEED);
        // The conv layers' share on the tiles of a step, with that step's learning rate, moves the
        // conv layers as the full step does, up to rounding: the share is one tile of 32 samples
        // with the SGD step fused, where the network's step sums its gradient over tiles of
        // `LeNet::BATCH_TILE` samples (4), then steps.
        let mut tiles = net::ConvTiles::of(&generated, &xs, &ts);
        let (mut part, mut full) = (generated.clone(), generated.clone());
        let (mut g1, mut g2) = (boxed_zeroed::<net::LeNet>(), boxed_zeroed::<net::LeNet>());
        net::conv_layers_step(&mut part, &xs, &mut tiles, LR, &mut g1);
        full.train_step_batch(&xs, &ts, LR, &mut g2);
        const { assert!(net::LeNet::<f32>::BATCH_TILE < BATCH, "the step is no longer tiled") };
        close("conv1 after the step", part.conv1.params(), full.conv1.params(), 1e-6);
        close("conv2 after the step", part.conv2.params(), full.conv2.params(), 1e-6);
        assert!(part.conv1 != generated.conv1, "the step changed nothing");
    });
}
