//! Baseline B, several independent accumulators: what a careful engineer writes after looking at
//! the assembly of [`straight`](super::straight).
//!
//! - Dot products (`z = W x + b`) are summed in [`ACC`] = 16 independent accumulators, then
//!   reduced pairwise. The compiler may not reassociate floating-point additions, so the
//!   accumulators have to be in the source: 16 `f32` are two 256-bit vectors (four 128-bit ones
//!   in the default x86_64 build), each an independent dependency chain.
//! - The backward pass walks `W` row by row: `dx += δ_o · W_o` (an `axpy` over a contiguous
//!   row, no reduction), `dW_o = δ_o · x`; the update is `W_o -= lr · dW_o`, also an `axpy`.
//! - When the build targets FMA (`-C target-cpu=native` here), multiply-adds are written
//!   `mul_add` (one rounding, one instruction); otherwise `a * b + c`, since `mul_add` without
//!   hardware FMA is a call into a software `fmaf`.

use super::act::{Relu, Sigmoid, SigmoidHalfSquared, SoftmaxCrossEntropy, Tanh};
use super::{Kernels, Layer, Mlp2};

/// Independent accumulators of the dot products.
pub const ACC: usize = 16;

/// `a · b + c`: an FMA when the build targets it.
#[inline(always)]
fn madd(a: f32, b: f32, c: f32) -> f32 {
    if cfg!(target_feature = "fma") { a.mul_add(b, c) } else { a * b + c }
}

/// `Σ a_i b_i` in [`ACC`] independent accumulators, reduced pairwise.
#[inline(always)]
pub fn dot<const N: usize>(a: &[f32; N], b: &[f32; N]) -> f32 {
    let (a_chunks, a_tail) = a.as_chunks::<ACC>();
    let (b_chunks, b_tail) = b.as_chunks::<ACC>();
    let mut acc = [0.0f32; ACC];
    for (x, y) in a_chunks.iter().zip(b_chunks) {
        for k in 0..ACC {
            acc[k] = madd(x[k], y[k], acc[k]);
        }
    }
    for ((acc, &x), &y) in acc.iter_mut().zip(a_tail).zip(b_tail) {
        *acc = madd(x, y, *acc);
    }
    let mut width = ACC;
    while width > 1 {
        width /= 2;
        for k in 0..width {
            acc[k] += acc[k + width];
        }
    }
    acc[0]
}

/// `y += alpha · x`.
#[inline(always)]
pub fn axpy<const N: usize>(alpha: f32, x: &[f32; N], y: &mut [f32; N]) {
    for (y, &x) in y.iter_mut().zip(x) {
        *y = madd(alpha, x, *y);
    }
}

/// The kernels with independent accumulators and `axpy`s.
pub struct Accum;

impl Kernels for Accum {
    #[inline]
    fn affine<const I: usize, const O: usize>(layer: &Layer<I, O>, x: &[f32; I], z: &mut [f32; O]) {
        for ((z, row), &b) in z.iter_mut().zip(&layer.w).zip(&layer.b) {
            *z = b + dot(row, x);
        }
    }

    #[inline]
    fn input_grad<const I: usize, const O: usize>(layer: &Layer<I, O>, delta: &[f32; O], dx: &mut [f32; I]) {
        dx.fill(0.0);
        for (row, &d) in layer.w.iter().zip(delta) {
            axpy(d, row, dx);
        }
    }

    #[inline]
    fn param_grad<const I: usize, const O: usize, const ACCUMULATE: bool>(
        x: &[f32; I],
        delta: &[f32; O],
        grad: &mut Layer<I, O>,
    ) {
        for (row, &d) in grad.w.iter_mut().zip(delta) {
            if ACCUMULATE {
                axpy(d, x, row);
            } else {
                for (g, &x) in row.iter_mut().zip(x) {
                    *g = d * x;
                }
            }
        }
        if ACCUMULATE {
            axpy(1.0, delta, &mut grad.b);
        } else {
            grad.b = *delta;
        }
    }

    #[inline]
    fn update<const I: usize, const O: usize>(layer: &mut Layer<I, O>, grad: &Layer<I, O>, lr: f32) {
        for (row, g) in layer.w.iter_mut().zip(&grad.w) {
            axpy(-lr, g, row);
        }
        axpy(-lr, &grad.b, &mut layer.b);
    }
}

/// W1 with independent accumulators.
pub type Toy = Mlp2<Accum, Sigmoid, SigmoidHalfSquared, 2, 2, 1>;
/// W2 with independent accumulators.
pub type Xor = Mlp2<Accum, Tanh, SigmoidHalfSquared, 2, 8, 1>;
/// W3 with independent accumulators.
pub type Digits = Mlp2<Accum, Relu, SoftmaxCrossEntropy, 64, 32, 10>;
/// W4 with independent accumulators.
pub type Mnist = Mlp2<Accum, Relu, SoftmaxCrossEntropy, 784, 128, 10>;
/// W5 with independent accumulators.
pub type Deep = super::Deep<Accum>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dot_matches_the_naive_sum_on_every_tail() {
        let a: [f32; 37] = core::array::from_fn(|i| i as f32 * 0.25);
        let b: [f32; 37] = core::array::from_fn(|i| 1.0 - i as f32 * 0.125);
        let naive: f32 = a.iter().zip(&b).map(|(x, y)| x * y).sum();
        assert!((dot(&a, &b) - naive).abs() <= 1e-4 * naive.abs());
        assert_eq!(dot(&[2.0], &[3.0]), 6.0);
    }
}
