//! The convolutional digits classifier and its input encoding, shared by the firmware
//! (`src/bin/digits_cnn.rs`) and the host program that trains it and bakes it into flash
//! (`examples/bake_digits_cnn.rs` of the `backprop` crate), so that both run exactly the same
//! network on exactly the same inputs.

use backprop::network;

network! {
    /// Classifies an 8×8 digit (UCI, pixels `0..=16`): eight 3×3 filters, a 2×2 max pool, and
    /// a dense softmax layer over the 72 pooled values.
    #[loss(SoftmaxCrossEntropy)]
    pub struct DigitsCnn {
        input: [1, 8, 8],
        conv: Conv2d<8, 3, Relu>,
        pool: MaxPool2d<2>,
        output: Dense<10, Softmax>,
    }
}

/// The network's input for an 8×8 image of pixels `0..=16`: each pixel divided by 16 (exact),
/// row-major, one channel.
#[allow(dead_code, reason = "the host program encodes its own training rows through it too")]
pub fn input(pixels: &[u8; 64]) -> [f32; 64] {
    pixels.map(|p| f32::from(p) / 16.0)
}

/// The learning rate of the training step the firmware times (and of the host's SGD epochs).
pub const LEARNING_RATE: f32 = 0.05;
