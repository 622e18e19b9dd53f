//! XOR trained on the device, twice from the same initial weights: in `f32` (every operation a
//! soft-float call on the Cortex-M0) and in `I16F16` (Q16.16 fixed point: the training step is
//! integer arithmetic only). Each must reach a mean loss below [`TARGET_LOSS`]; the instructions of
//! one training step (forward, loss, backward, SGD update) are counted for both.

use core::fmt;
use core::hint::black_box;

use backprop::{I16F16, Init, Scalar, network};
use cortex_m_semihosting::hprintln;

use crate::Counter;

network! {
    /// XOR: two inputs, four tanh hidden neurons, one sigmoid output read as P(x₁ ≠ x₂).
    #[loss(BinaryCrossEntropy)]
    pub struct Xor { input: 2, hidden: Dense<4, Tanh>, output: Dense<1, Sigmoid> }
}

/// The four samples and their targets.
const SAMPLES: [([f64; 2], f64); 4] =
    [([0.0, 0.0], 0.0), ([0.0, 1.0], 1.0), ([1.0, 0.0], 1.0), ([1.0, 1.0], 0.0)];
/// The seed of the initial weights (`Init::Auto`: Xavier-uniform for tanh and sigmoid).
const SEED: u64 = 42;
/// The SGD step size, per sample.
const LEARNING_RATE: f64 = 0.5;
/// Training stops when the mean loss over the four samples is below this.
pub const TARGET_LOSS: f64 = 0.01;
/// Training gives up after this many epochs.
const MAX_EPOCHS: u32 = 5000;
/// Training steps timed for the instruction count.
const TIMED_STEPS: u32 = 100;

/// Trains XOR in `T`; prints epochs, loss and predictions, and with a counter the instructions of
/// one training step. Returns whether it converged, and those instructions.
pub fn train<T: Scalar>(counter: Option<&Counter>) -> (bool, Option<u32>) {
    // The conversions from f64 happen once, before training: not in the step that is measured.
    let mut net: Xor<T> = Init::Auto.network(SEED);
    let samples = SAMPLES.map(|(x, t)| (x.map(T::from_f64), [T::from_f64(t)]));
    let lr = T::from_f64(LEARNING_RATE);
    let start = net.clone();
    let mean_loss =
        |net: &Xor<T>| samples.iter().fold(T::ZERO, |sum, (x, t)| sum + net.loss(x, t)) / T::from_f64(4.0);

    let mut converged = None;
    for epoch in 1..=MAX_EPOCHS {
        for (x, t) in &samples {
            net.train_step(x, t, lr);
        }
        if mean_loss(&net).to_f64() < TARGET_LOSS {
            converged = Some(epoch);
            break;
        }
    }
    let loss = mean_loss(&net).to_f64();
    match converged {
        Some(epochs) => hprintln!("xor in {}: mean loss {} after {} epochs", T::NAME, Micro(loss), epochs),
        None => hprintln!(
            "FAIL: xor in {} did not converge: mean loss {} after {} epochs",
            T::NAME,
            Micro(loss),
            MAX_EPOCHS
        ),
    }
    for (x, t) in &samples {
        hprintln!(
            "  xor({}, {}) = {}  (target {})",
            x[0].to_f64() as u8,
            x[1].to_f64() as u8,
            Micro(net.forward(x)[0].to_f64()),
            t[0].to_f64() as u8
        );
    }

    let Some(counter) = counter else { return (converged.is_some(), None) };
    let mut timed = start;
    let ticks = counter.ticks(|| {
        for i in 0..TIMED_STEPS {
            let (x, t) = &samples[(i % 4) as usize];
            black_box(timed.train_step(black_box(x), black_box(t), lr));
        }
    });
    let step = counter.instructions(ticks, TIMED_STEPS);
    hprintln!(
        "xor in {}: {} instructions per training step (forward, loss, backward, SGD update)",
        T::NAME,
        step
    );
    (converged.is_some(), Some(step))
}

/// Trains in `f32` and in `I16F16`, and compares their training steps.
pub fn run(counter: Option<&Counter>) -> bool {
    let (f32_ok, f32_step) = train::<f32>(counter);
    let (fixed_ok, fixed_step) = train::<I16F16>(counter);
    if let (Some(f), Some(q)) = (f32_step, fixed_step) {
        hprintln!(
            "xor training step: I16F16 {} instructions, f32 soft float {} ({}.{}x)",
            q,
            f,
            f / q.max(1),
            (f % q.max(1)) * 10 / q.max(1)
        );
    }
    f32_ok && fixed_ok
}

/// A value in `[0, 1]`-ish printed with six decimals through integers (no float formatting,
/// which would pull several KiB of code into the firmware).
struct Micro(f64);

impl fmt::Display for Micro {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let micros = (self.0.abs() * 1e6 + 0.5) as u64;
        let sign = if self.0 < 0.0 && micros > 0 { "-" } else { "" };
        write!(f, "{sign}{}.{:06}", micros / 1_000_000, micros % 1_000_000)
    }
}
