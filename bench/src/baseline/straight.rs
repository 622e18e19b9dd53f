//! Baseline A, straight loops: the textbook formulas as index loops, each sum in one accumulator.
//!
//! This is what a careful engineer writes first: correct, fixed-size (so every bound is known and
//! every bounds check disappears), no allocation, row-major weights. Its dot products do not
//! vectorise: without fast-math the compiler must add the products in source order, one add per
//! add-latency. The gradient and update loops (no reduction) vectorise as they are.

// The index loops are the point of this baseline: the formulas as written in a textbook.
#![allow(clippy::needless_range_loop)]

use super::act::{Relu, Sigmoid, SigmoidHalfSquared, SoftmaxCrossEntropy, Tanh};
use super::{Kernels, Layer, Mlp2};

/// The straight-loop kernels.
pub struct Straight;

impl Kernels for Straight {
    #[inline]
    fn affine<const I: usize, const O: usize>(layer: &Layer<I, O>, x: &[f32; I], z: &mut [f32; O]) {
        for o in 0..O {
            let mut sum = layer.b[o];
            for i in 0..I {
                sum += layer.w[o][i] * x[i];
            }
            z[o] = sum;
        }
    }

    #[inline]
    fn input_grad<const I: usize, const O: usize>(layer: &Layer<I, O>, delta: &[f32; O], dx: &mut [f32; I]) {
        for i in 0..I {
            let mut sum = 0.0;
            for o in 0..O {
                sum += layer.w[o][i] * delta[o];
            }
            dx[i] = sum;
        }
    }

    #[inline]
    fn param_grad<const I: usize, const O: usize, const ACCUMULATE: bool>(
        x: &[f32; I],
        delta: &[f32; O],
        grad: &mut Layer<I, O>,
    ) {
        for o in 0..O {
            for i in 0..I {
                if ACCUMULATE {
                    grad.w[o][i] += delta[o] * x[i];
                } else {
                    grad.w[o][i] = delta[o] * x[i];
                }
            }
            if ACCUMULATE {
                grad.b[o] += delta[o];
            } else {
                grad.b[o] = delta[o];
            }
        }
    }

    #[inline]
    fn update<const I: usize, const O: usize>(layer: &mut Layer<I, O>, grad: &Layer<I, O>, lr: f32) {
        for o in 0..O {
            for i in 0..I {
                layer.w[o][i] -= lr * grad.w[o][i];
            }
            layer.b[o] -= lr * grad.b[o];
        }
    }
}

/// W1 with straight loops.
pub type Toy = Mlp2<Straight, Sigmoid, SigmoidHalfSquared, 2, 2, 1>;
/// W2 with straight loops.
pub type Xor = Mlp2<Straight, Tanh, SigmoidHalfSquared, 2, 8, 1>;
/// W3 with straight loops.
pub type Digits = Mlp2<Straight, Relu, SoftmaxCrossEntropy, 64, 32, 10>;
/// W4 with straight loops.
pub type Mnist = Mlp2<Straight, Relu, SoftmaxCrossEntropy, 784, 128, 10>;
/// W5 with straight loops.
pub type Deep = super::Deep<Straight>;
