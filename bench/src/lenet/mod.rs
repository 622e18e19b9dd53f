//! The LeNet-like workload (issue 19): `[1, 28, 28]` → Conv2d 6 filters 5×5 relu valid →
//! MaxPool2d 2 → Conv2d 16 filters 5×5 relu valid → MaxPool2d 2 → Dense 120 relu → Dense 84 relu
//! → Dense 10 softmax, softmax cross-entropy, `f32`.
//!
//! - [`net`]: the network declared with `network!`, and its convolutional layers' share of a
//!   batch step alone.
//! - [`direct`]: the same network hand-written with plain loops, the baseline.
//! - Here: the shapes, the flop counts and the deterministic data both share.

pub mod direct;
pub mod net;

use backprop::Rng;

use crate::workload::{Samples, data};

/// Input pixels: one channel of 28 × 28.
pub const INPUTS: usize = 28 * 28;
/// Classes.
pub const CLASSES: usize = 10;
/// Samples in a mini-batch.
pub const BATCH: usize = 32;

/// Multiply-adds of one sample's forward pass through the first convolution: 6 filters of 5 × 5
/// over 24 × 24 outputs.
pub const CONV1_MACS: usize = 6 * 25 * 24 * 24;
/// The same for the second: 16 filters of 6 × 5 × 5 over 8 × 8 outputs.
pub const CONV2_MACS: usize = 16 * 6 * 25 * 8 * 8;
/// The dense head: 256 → 120 → 84 → 10.
pub const DENSE_MACS: usize = 256 * 120 + 120 * 84 + 84 * 10;

/// Flops of the convolutional layers in one train step of `batch` samples: per sample, the
/// forward pass and the weight gradient of both (2 flops per multiply-add each), and the input
/// gradient of the second (the first layer's is not computed); the biases, the pools and the SGD
/// update (once per step) are not counted.
pub const fn conv_train_flops(batch: usize) -> f64 {
    (batch * 2 * (2 * CONV1_MACS + 3 * CONV2_MACS)) as f64
}

/// Flops of one train step of `batch` samples of the whole network, counted the same way (the
/// dense layers as in the other workloads: forward, weight gradient and input gradient but for
/// the first dense layer's input gradient, which feeds the pool and is computed, so it counts).
pub const fn train_flops(batch: usize) -> f64 {
    conv_train_flops(batch) + (batch * 2 * 3 * DENSE_MACS) as f64
}

/// Flops of one sample's inference.
pub const fn infer_flops() -> f64 {
    (2 * (CONV1_MACS + CONV2_MACS + DENSE_MACS)) as f64
}

/// `N` images (uniform in `[0, 1)`) and one-hot targets, from `seed`.
pub fn images<const N: usize>(seed: u64) -> (Samples<INPUTS, N>, Samples<CLASSES, N>) {
    data::<INPUTS, CLASSES, N>(seed)
}

/// The initial parameters of the network in the order of `backprop::Params` (each layer's
/// weights, then its biases, input to output): He-uniform weights `U(±√(6 / fan_in))` (every
/// layer but the output is followed by a relu), zero biases, from `seed`.
pub fn initial_params(seed: u64) -> Vec<f32> {
    // (weights, fan-in, biases) of each layer.
    const LAYERS: [(usize, usize, usize); 5] =
        [(6 * 25, 25, 6), (16 * 150, 150, 16), (256 * 120, 256, 120), (120 * 84, 120, 84), (84 * 10, 84, 10)];
    let mut rng = Rng::new(seed);
    let mut params = Vec::new();
    for (weights, fan_in, biases) in LAYERS {
        let bound = (6.0 / fan_in as f64).sqrt();
        params.extend((0..weights).map(|_| ((rng.next_f64() * 2.0 - 1.0) * bound) as f32));
        params.extend(std::iter::repeat_n(0.0f32, biases));
    }
    params
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flop_counts() {
        assert_eq!(CONV1_MACS, 86_400);
        assert_eq!(CONV2_MACS, 153_600);
        assert_eq!(conv_train_flops(1), 2.0 * (2.0 * 86_400.0 + 3.0 * 153_600.0));
        assert_eq!(conv_train_flops(32), 40_550_400.0);
        assert_eq!(infer_flops(), 2.0 * (86_400.0 + 153_600.0 + 41_640.0));
        assert_eq!(initial_params(1).len(), 156 + 2416 + 30_840 + 10_164 + 850);
    }
}
