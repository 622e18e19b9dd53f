//! The `f32` path: `Digits::PYTORCH` as baked by the macro, a `static` in flash, run with
//! software floating point (the Cortex-M0 has no FPU: every `f32` operation is a call into
//! `compiler-builtins`, and the softmax's `expf` comes from `libm`).

use backprop::metrics::argmax;

use crate::network::{self, Digits};
use crate::{Classifier, digits};

/// The weights, in flash: `Digits::PYTORCH` is a constant the macro built from the safetensors
/// file at compile time.
static NET: Digits<f32> = Digits::PYTORCH;

/// The `f32` network, exactly as the host runs it (`examples/bake_digits_m0.rs`).
pub struct F32;

impl Classifier for F32 {
    const NAME: &'static str = "f32";
    const WEIGHT_BYTES: usize = Digits::<f32>::PARAM_BYTES;
    const HOST_CORRECT: usize = digits::HOST_F32_CORRECT;

    type Input = [f32; 64];
    type Output = [f32; 10];

    fn input(pixels: &[u8; 64]) -> [f32; 64] {
        network::input(pixels)
    }

    fn forward(x: &[f32; 64]) -> [f32; 10] {
        NET.forward(x)
    }

    /// The argmax, first on ties: what `backprop::metrics::predict` gives the host for ten outputs.
    fn class(y: &[f32; 10]) -> usize {
        argmax(y)
    }
}
