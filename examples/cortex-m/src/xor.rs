//! The XOR network and its training procedure, shared by the firmware (`src/main.rs`) and the
//! host program that bakes weights into it (`examples/bake_xor.rs` of the `backprop` crate), so
//! that both train exactly the same network the same way.

use backprop::{Params, Rng, network};

network! {
    /// XOR: two inputs, four tanh hidden neurons, one sigmoid output read as P(x₁ ≠ x₂).
    ///
    /// `PYTORCH` is the same network trained in Python (`tests/reference/safetensors_ref.py`),
    /// read from its safetensors file by the macro at compile time.
    #[loss(BinaryCrossEntropy)]
    #[weights(PYTORCH = "../baked/xor-pytorch.safetensors", scalar = f32)]
    pub struct Xor {
        input: 2,
        hidden: Dense<4, Tanh>,
        output: Dense<1, Sigmoid>,
    }
}

/// The four XOR samples.
pub const INPUTS: [[f32; 2]; 4] = [[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]];
/// Their targets.
pub const TARGETS: [[f32; 1]; 4] = [[0.0], [1.0], [1.0], [0.0]];

/// The seed of the initial weights.
pub const SEED: u64 = 42;
/// The SGD step size.
pub const LEARNING_RATE: f32 = 0.5;
/// Training stops when the mean loss over the four samples is below this.
pub const TARGET_LOSS: f32 = 0.01;
/// Training gives up after this many epochs (one epoch: one SGD step per sample).
pub const MAX_EPOCHS: u32 = 5000;

/// Xavier-uniform weights (`±√(6 / (inputs + outputs))` per layer) from [`SEED`], zero biases.
pub fn initial() -> Xor<f32> {
    let mut rng = Rng::new(SEED);
    let mut net = Xor::<f32>::zeroed();
    for row in &mut net.hidden.w {
        for w in row {
            *w = uniform(&mut rng) * XAVIER_HIDDEN;
        }
    }
    for row in &mut net.output.w {
        for w in row {
            *w = uniform(&mut rng) * XAVIER_OUTPUT;
        }
    }
    net
}

/// Uniform in `[-1, 1)`, from the top 24 bits of the generator: exact in `f32`, and free of the
/// `f64` arithmetic of [`Rng::uniform`], which a Cortex-M4F would do in software (2 KiB of flash).
fn uniform(rng: &mut Rng) -> f32 {
    let bits = (rng.next_u64() >> 40) as u32;
    bits as f32 * (2.0 / 16_777_216.0) - 1.0
}

/// `√(6 / (2 + 4))`.
const XAVIER_HIDDEN: f32 = 1.0;
/// `√(6 / (4 + 1))`.
const XAVIER_OUTPUT: f32 = 1.095_445_1;

/// The mean loss over the four samples.
pub fn mean_loss(net: &Xor<f32>) -> f32 {
    INPUTS.iter().zip(&TARGETS).map(|(x, t)| net.loss(x, t)).sum::<f32>() / 4.0
}

/// One epoch: an SGD step on each sample, in order.
pub fn epoch(net: &mut Xor<f32>) {
    for (x, t) in INPUTS.iter().zip(&TARGETS) {
        net.train_step(x, t, LEARNING_RATE);
    }
}

/// Trains until the mean loss is below [`TARGET_LOSS`]; calls `report(epoch, loss)` after
/// every epoch. Returns the number of epochs, or `Err(loss)` after [`MAX_EPOCHS`].
pub fn train(net: &mut Xor<f32>, mut report: impl FnMut(u32, f32)) -> Result<u32, f32> {
    let mut loss = mean_loss(net);
    for e in 1..=MAX_EPOCHS {
        epoch(net);
        loss = mean_loss(net);
        report(e, loss);
        if loss < TARGET_LOSS {
            return Ok(e);
        }
    }
    Err(loss)
}

/// The network's outputs for the four samples.
pub fn predictions(net: &Xor<f32>) -> [f32; 4] {
    let mut out = [0.0; 4];
    for (y, x) in out.iter_mut().zip(&INPUTS) {
        *y = net.forward(x)[0];
    }
    out
}

/// `true` when the network's parameters are bit-for-bit those of `other`.
pub fn same_bits(net: &Xor<f32>, other: &Xor<f32>) -> bool {
    net.params().iter().zip(other.params()).all(|(a, b)| a.to_bits() == b.to_bits())
}
