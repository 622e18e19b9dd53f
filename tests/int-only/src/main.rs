//! Quantized inference is integer-only, proven by the linker and `llvm-nm`.
//!
//! Built for `thumbv6m-none-eabi` (Cortex-M0+: no FPU, so every `f32`/`f64` operation is a call
//! to a soft-float routine of `compiler_builtins`, `__aeabi_f*` or `__aeabi_d*`), this
//! `#![no_std]` executable calls only `QDense::<64, 32>::forward` and `QDense::<32, 10>::forward`
//! (Relu, Table and Softmax activations) on opaque layers and inputs. After `--gc-sections` the
//! binary holds only what those calls reach, so:
//! - if a floating-point operation were reachable, an `__aeabi_f*`/`__aeabi_d*` symbol would be in
//!   the binary; the check is
//!   `llvm-nm target/thumbv6m-none-eabi/release/backprop-test-int-only | grep -E '__aeabi_[fd]'`,
//!   which must print nothing;
//! - as in `tests/no-panic`, the panic handler calls a function that exists nowhere, so a
//!   reachable panic fails the link.
//!
//! On the host it is an ordinary program that runs the same code once.
#![cfg_attr(target_os = "none", no_std, no_main)]

use core::hint::black_box;

use backprop::quant::{QActivation, QDense, QParams};

/// A layer whose every field the optimiser cannot see through.
#[inline(never)]
fn opaque<const I: usize, const O: usize>(activation: QActivation) -> QDense<I, O> {
    black_box(QDense {
        w: [[1; I]; O],
        b: [0; O],
        multiplier: [1 << 30; O],
        shift: [-3; O],
        input: QParams { scale: 0.0, zero_point: 0 },
        z: QParams { scale: 0.0, zero_point: 0 },
        output: QParams { scale: 0.0, zero_point: -128 },
        activation,
    })
}

fn run() {
    let clamp = QActivation::Clamp { min: -128, max: 127 };
    let relu = opaque::<64, 32>(black_box(clamp));
    let table = opaque::<64, 32>(black_box(QActivation::Table([0; 256])));
    let softmax = opaque::<32, 10>(black_box(QActivation::Softmax([1; 256])));
    let tanh = opaque::<32, 10>(black_box(QActivation::Table([0; 256])));
    let x: [i8; 64] = black_box([0; 64]);
    black_box(softmax.forward(&relu.forward(&x)));
    black_box(tanh.forward(&table.forward(&x)));
}

// The entry point and the panic handler of `tests/no-panic`.
#[cfg(target_os = "none")]
#[path = "../../no-panic/src/bare_metal.rs"]
mod bare_metal;

#[cfg(not(target_os = "none"))]
fn main() {
    run();
    println!("int-only: quantized forward exercised on the host; the proof is the thumbv6m link and nm");
}
