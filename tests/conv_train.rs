//! Generated convolutional networks learn: a small LeNet-like network on the bundled 8 × 8
//! digits with the checked `Trainer` (mini-batches, Adam), and a 1-d network on a toy task (is
//! the bump in a signal at its start or at its end?) with every optimizer, and with plain
//! `train_steps`.

#[path = "../examples/common/mod.rs"]
mod common;

use backprop::metrics::evaluate;
use backprop::{Adam, AdamW, Init, Momentum, Network, Optimizer, Rng, Sgd, Trainer, network};

network! {
    /// Digits: one 8 × 8 channel, two convolutions, a pool, a dense classifier.
    #[loss(SoftmaxCrossEntropy)]
    pub struct DigitsConv {
        input: [1, 8, 8],
        conv1: Conv2d<8, 3, Relu, padding = Same>,
        pool: MaxPool2d<2>,
        conv2: Conv2d<16, 3, Relu>,
        output: Dense<10, Softmax>,
    }
}

network! {
    /// Signals: where is the bump?
    #[loss(BinaryCrossEntropy)]
    pub struct Bump {
        input: [1, 16],
        conv: Conv1d<4, 3, Tanh, padding = Same>,
        pool: AvgPool1d<4>,
        output: Dense<1, Sigmoid>,
    }
}

#[test]
fn a_conv_net_learns_the_digits_with_the_trainer() {
    let data = common::load_digits().expect("the bundled digits load");
    let (train, test) = data.split(360, 2);
    let net = Init::Auto.network::<f32, DigitsConv<f32>>(2);
    let before = evaluate(&net, &test.inputs, &test.targets).unwrap();
    let mut trainer = Trainer::new(net, Adam::new(3e-3).unwrap());
    let mut order = vec![0; train.len()];
    let mut rng = Rng::new(2);
    let mut losses = Vec::new();
    for _ in 0..3 {
        let stats =
            trainer.epoch::<16, _>(&train.inputs, &train.targets, &mut order, &mut rng, |_, _| {}).unwrap();
        assert_eq!(stats.samples, train.len());
        losses.push(stats.mean_loss);
    }
    let after = evaluate(&trainer.net, &test.inputs, &test.targets).unwrap();
    println!(
        "digits, conv: test accuracy {} -> {}, epoch losses {losses:?}",
        before.accuracy, after.accuracy
    );
    assert!(before.accuracy < 0.5, "untrained: {}", before.accuracy);
    assert!(after.accuracy > 0.9, "test accuracy {}", after.accuracy);
    assert!(losses[2] < 0.25 * losses[0], "epoch losses {losses:?}");
}

/// `n` signals of 16 samples: noise, plus a bump of height 1 at positions 2-4 (target 0) or
/// 11-13 (target 1).
fn bumps(n: usize, seed: u64) -> (Vec<[f64; 16]>, Vec<[f64; 1]>) {
    let mut rng = Rng::new(seed);
    (0..n)
        .map(|k| {
            let late = k % 2 == 1;
            let mut x: [f64; 16] = core::array::from_fn(|_| rng.uniform(-0.2, 0.2));
            let start = if late { 11 } else { 2 };
            x[start..start + 3].iter_mut().for_each(|v| *v += 1.0);
            (x, [if late { 1.0 } else { 0.0 }])
        })
        .unzip()
}

fn mean_loss(net: &Bump<f64>, xs: &[[f64; 16]], ts: &[[f64; 1]]) -> f64 {
    xs.iter().zip(ts).map(|(x, t)| net.loss(x, t)).sum::<f64>() / xs.len() as f64
}

/// 300 steps of `optimizer` on mini-batches of 8: the loss falls to a tenth, and every test
/// signal is classified.
fn learns_with<O: Optimizer<f64, Bump<f64>>>(name: &str, mut optimizer: O) {
    let (xs, ts) = bumps(64, 3);
    let (test_xs, test_ts) = bumps(32, 4);
    let mut net = Init::Auto.network::<f64, Bump<f64>>(5);
    let before = mean_loss(&net, &xs, &ts);
    let mut grads = Bump::zeroed();
    for step in 0..300 {
        let at = (step * 8) % xs.len();
        let batch: &[[f64; 16]; 8] = xs[at..at + 8].try_into().unwrap();
        let targets: &[[f64; 1]; 8] = ts[at..at + 8].try_into().unwrap();
        net.backward_batch(batch, targets, &mut grads);
        optimizer.step(&mut net, &grads);
    }
    let after = mean_loss(&net, &xs, &ts);
    let right =
        test_xs.iter().zip(&test_ts).filter(|(x, t)| (net.forward(x)[0] > 0.5) == (t[0] > 0.5)).count();
    println!("{name}: loss {before:.4} -> {after:.4}, {right}/32 test signals right");
    assert!(after < 0.1 * before, "{name}: loss {before} -> {after}");
    assert_eq!(right, 32, "{name}");
}

#[test]
fn every_optimizer_trains_a_conv_net() {
    learns_with("Sgd", Sgd::new(0.5).unwrap());
    learns_with("Momentum", Momentum::new(0.1, 0.9).unwrap());
    learns_with("Nesterov", Momentum::nesterov(0.1, 0.9).unwrap());
    learns_with("Adam", Adam::new(0.02).unwrap());
    learns_with("AdamW", AdamW::new(0.02).unwrap().weight_decay(1e-4).unwrap());
}

#[test]
fn single_sample_sgd_trains_a_conv_net() {
    let (xs, ts) = bumps(64, 6);
    let mut net = Init::Auto.network::<f64, Bump<f64>>(7);
    let before = mean_loss(&net, &xs, &ts);
    for _ in 0..20 {
        net.train_steps(xs.iter().zip(&ts), 0.1);
    }
    let after = mean_loss(&net, &xs, &ts);
    assert!(after < 0.1 * before, "loss {before} -> {after}");
}
