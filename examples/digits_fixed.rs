//! Handwritten digits trained in Q16.16 fixed point ([`I16F16`]) next to the same training in
//! `f32`: test accuracy and time of both, and the time of one training step (digits and XOR).
//!
//! ```text
//! cargo run --release --example digits_fixed
//! ```
//!
//! The network, data and split are those of `examples/digits.rs` (64-32-10 relu/softmax, 1,437
//! training and 360 test digits). Both types train with SGD with momentum (0.9) on mini-batches of
//! 16: Adam's second moment, the square of a gradient, is zero in Q16.16 for gradients below
//! `2⁻⁸` (see the `fixed` module), so this example uses momentum in both. Fails if the fixed-point
//! network's test accuracy is below 95%.

mod common;

use std::error::Error;
use std::hint::black_box;
use std::time::Instant;

use backprop::metrics::evaluate;
use backprop::{I16F16, Init, Momentum, Network, Rng, Scalar, Trainer, network};

network! {
    /// Classifies an 8×8 digit: 64 pixels, 32 relu units, 10 classes.
    #[loss(SoftmaxCrossEntropy)]
    pub struct Digits {
        input: 64,
        hidden: Dense<32, Relu>,
        output: Dense<10, Softmax>,
    }
}

network! {
    /// XOR, as in `examples/cortex-m`: for the time of one step.
    #[loss(BinaryCrossEntropy)]
    pub struct Xor { input: 2, hidden: Dense<4, Tanh>, output: Dense<1, Sigmoid> }
}

const SEED: u64 = 2024;
const TEST: usize = 360;
const EPOCHS: usize = 30;
const BATCH: usize = 16;
const LEARNING_RATE: f64 = 0.05;
const MOMENTUM: f64 = 0.9;

/// The data in `T`.
struct Data<T> {
    inputs: Vec<[T; 64]>,
    targets: Vec<[T; 10]>,
}

fn convert<T: Scalar>(set: &common::Dataset<64>) -> Data<T> {
    Data {
        inputs: set.inputs.iter().map(|x| x.map(|v| T::from_f64(f64::from(v)))).collect(),
        targets: set.targets.iter().map(|t| t.map(|v| T::from_f64(f64::from(v)))).collect(),
    }
}

/// Trains in `T`; returns the test accuracy, the seconds taken and the trained network.
fn train<T: Scalar>(train: &Data<T>, test: &Data<T>) -> Result<(f64, f64, Digits<T>), Box<dyn Error>> {
    let start = Instant::now();
    let net: Digits<T> = Init::Auto.network(SEED);
    let optimizer = Momentum::new(T::from_f64(LEARNING_RATE), T::from_f64(MOMENTUM))?;
    let mut trainer = Trainer::new(net, optimizer);
    let mut order = vec![0; train.inputs.len()];
    let mut rng = Rng::new(SEED);
    for epoch in 1..=EPOCHS {
        let stats =
            trainer.epoch::<BATCH, _>(&train.inputs, &train.targets, &mut order, &mut rng, |_, _| {})?;
        if epoch % 10 == 0 {
            let on_test = evaluate(&trainer.net, &test.inputs, &test.targets)?;
            println!(
                "  {:>6} epoch {epoch:>2}: running loss {:.4}, test accuracy {:5.1}%",
                T::NAME,
                stats.mean_loss,
                100.0 * on_test.accuracy
            );
        }
    }
    let seconds = start.elapsed().as_secs_f64();
    let result = evaluate(&trainer.net, &test.inputs, &test.targets)?;
    Ok((result.accuracy, seconds, trainer.net))
}

/// Nanoseconds per single-sample `train_step` of `net`, cycling through `samples`.
fn step_time<T: Scalar, N: Network<T>>(mut net: N, samples: &[(N::Input, N::Output)], lr: T) -> f64 {
    let steps = 200_000;
    let start = Instant::now();
    for (x, t) in samples.iter().cycle().take(steps) {
        black_box(net.train_step(black_box(x), black_box(t), lr));
    }
    black_box(&net);
    start.elapsed().as_secs_f64() * 1e9 / steps as f64
}

fn main() -> Result<(), Box<dyn Error>> {
    let data = common::load_digits()?;
    let (train_set, test_set) = data.split(TEST, SEED);
    println!(
        "digits: {} training and {} test samples, {EPOCHS} epochs of momentum SGD (lr {LEARNING_RATE}, momentum {MOMENTUM}), batches of {BATCH}",
        train_set.len(),
        test_set.len()
    );

    let (train32, test32) = (convert::<f32>(&train_set), convert::<f32>(&test_set));
    let (acc32, secs32, _) = train(&train32, &test32)?;
    let (train_q, test_q) = (convert::<I16F16>(&train_set), convert::<I16F16>(&test_set));
    let (acc_q, secs_q, net_q) = train(&train_q, &test_q)?;
    println!("\n{:>8} {:>14} {:>12}", "scalar", "test accuracy", "training");
    println!("{:>8} {:>13.2}% {:>10.2} s", "f32", 100.0 * acc32, secs32);
    println!("{:>8} {:>13.2}% {:>10.2} s", "I16F16", 100.0 * acc_q, secs_q);

    // One training step (single sample, plain SGD), in both types.
    let digits32: Vec<_> = train32.inputs.iter().copied().zip(train32.targets.iter().copied()).collect();
    let digits_q: Vec<_> = train_q.inputs.iter().copied().zip(train_q.targets.iter().copied()).collect();
    let d32 = step_time(Init::Auto.network::<f32, Digits<f32>>(SEED), &digits32, 0.01);
    let dq = step_time(net_q, &digits_q, I16F16::from_f64(0.01));
    let xor = [([0.0, 0.0], [0.0]), ([0.0, 1.0], [1.0]), ([1.0, 0.0], [1.0]), ([1.0, 1.0], [0.0])];
    let xor_q = xor.map(|(x, t): ([f64; 2], [f64; 1])| (x.map(I16F16::from_f64), t.map(I16F16::from_f64)));
    let x32 = step_time(
        Init::Auto.network::<f32, Xor<f32>>(42),
        &xor.map(|(x, t)| (x.map(|v| v as f32), t.map(|v| v as f32))),
        0.5,
    );
    let xq = step_time(Init::Auto.network::<I16F16, Xor<I16F16>>(42), &xor_q, I16F16::HALF);
    println!("\none training step (train_step, one sample), on this host:");
    println!("  digits 64-32-10: f32 {d32:7.0} ns, I16F16 {dq:7.0} ns ({:.2}x)", dq / d32);
    println!("  XOR 2-4-1:       f32 {x32:7.0} ns, I16F16 {xq:7.0} ns ({:.2}x)", xq / x32);

    if acc_q < 0.95 {
        return Err(format!("I16F16 test accuracy {:.2}% is below 95%", 100.0 * acc_q).into());
    }
    Ok(())
}
