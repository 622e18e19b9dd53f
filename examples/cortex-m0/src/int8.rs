//! The int8 path: `Digits::PYTORCH` quantized on the host (`examples/bake_digits_m0.rs`, from
//! the 1,437 training rows) into a `DigitsInt8`, a `static` in flash, run with integer
//! arithmetic only: no soft-float routine is linked for it.

use crate::network::DigitsInt8;
use crate::quantized::{DIGITS_INT8, HOST_INT8_CORRECT, PIXEL_INT8};
use crate::{Classifier, digits};

/// The quantized network, exactly as the host runs it.
pub struct Int8;

impl Classifier for Int8 {
    const NAME: &'static str = "int8";
    const WEIGHT_BYTES: usize = core::mem::size_of::<DigitsInt8>();
    const HOST_CORRECT: usize = HOST_INT8_CORRECT;

    type Input = [i8; 64];
    type Output = [i8; 10];

    /// Pixel `p` is `p / 16` quantized with the network's input scale: a table of 17, built on
    /// the host, so the encoding needs no float either.
    fn input(pixels: &[u8; 64]) -> [i8; 64] {
        pixels.map(|p| PIXEL_INT8.get(usize::from(p)).copied().unwrap_or(i8::MAX))
    }

    fn forward(x: &[i8; 64]) -> [i8; 10] {
        DIGITS_INT8.forward(x)
    }

    /// The first largest output, as on the host.
    fn class(y: &[i8; 10]) -> usize {
        let mut best = 0;
        for (i, &v) in (0..).zip(y) {
            if y.get(best).is_some_and(|&b| v > b) {
                best = i;
            }
        }
        best
    }
}

const _: () = assert!(digits::COUNT == 360);
