//! The digits classifier and its input encoding, shared by the firmware (`src/main.rs`) and the
//! host program that bakes the test set into it (`examples/bake_digits_m0.rs` of the `backprop`
//! crate), so that both run exactly the same network on exactly the same inputs.

use backprop::network;

network! {
    /// The UCI digits classifier trained in PyTorch by `tests/reference/safetensors_ref.py`
    /// (`hidden = nn.Linear(64, 32)`, relu, `output = nn.Linear(32, 10)`, softmax in the loss).
    ///
    /// `PYTORCH` is its weights, read from the safetensors file by the macro at compile time
    /// (the path is relative to this file).
    #[loss(SoftmaxCrossEntropy)]
    /// `DigitsInt8` is its int8 form (`Digits::quantize`, from calibration inputs).
    #[weights(PYTORCH = "../../data/digits-pytorch.safetensors", scalar = f32)]
    #[quantized(DigitsInt8)]
    pub struct Digits { input: 64, hidden: Dense<32, Relu>, output: Dense<10, Softmax> }
}

/// The network's input for an 8×8 image of pixels `0..=16`: each pixel divided by 16, as in
/// training (`load_digits` of the examples, and the Python side).
pub fn input(pixels: &[u8; 64]) -> [f32; 64] {
    pixels.map(|p| f32::from(p) / 16.0)
}
