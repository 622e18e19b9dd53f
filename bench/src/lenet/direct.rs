//! The baseline: the LeNet written by hand with plain loops over fixed-size arrays, as a careful
//! engineer writes a direct convolution without blocking.
//!
//! Every loop nest is the formula, ordered so that the innermost loop runs over contiguous memory
//! and vectorises where a plain loop can: the forward pass adds each weight times a shifted input
//! row into the output row (`z[f][y][..] += w · x[c][y + ky][kx ..]`), the input gradient each
//! weight times an error row into the shifted input-gradient row; the weight gradient is a sum
//! over the output positions in one accumulator (a reduction, which without fast-math stays
//! scalar, as the dot products of the dense baselines' straight loops do). Max pooling remembers
//! where each maximum came from. The dense head is [`Layer`] with the straight-loop kernels of
//! the dense baselines. As there, the update is a pass of its own after the backward pass (the
//! gradients written into a second network of the same shape), and a mini-batch sums its
//! samples' gradients and steps once by `lr / B`.

// The index loops are the point of this baseline: the formulas as written in a textbook.
#![allow(clippy::needless_range_loop)]

use super::{BATCH, CLASSES, INPUTS};
use crate::baseline::act::{Head, Hidden, Relu, SoftmaxCrossEntropy};
use crate::baseline::straight::Straight;
use crate::baseline::{Kernels, Layer};
use crate::workload::Zeroable;

/// A convolution of `C` channels of `H × H` by `F` filters of `K × K`, valid, stride 1, giving
/// `F` channels of `O × O`.
#[derive(Clone, Copy, Debug, PartialEq)]
#[repr(C)]
pub struct Conv<const C: usize, const H: usize, const F: usize, const K: usize, const O: usize> {
    /// `w[f][c][ky][kx]`.
    pub w: [[[[f32; K]; K]; C]; F],
    /// One bias per filter.
    pub b: [f32; F],
}

impl<const C: usize, const H: usize, const F: usize, const K: usize, const O: usize> Conv<C, H, F, K, O> {
    /// `z = w ⋆ x + b`.
    #[inline]
    fn forward(&self, x: &[[[f32; H]; H]; C], z: &mut [[[f32; O]; O]; F]) {
        for f in 0..F {
            for y in 0..O {
                for xo in 0..O {
                    z[f][y][xo] = self.b[f];
                }
            }
            for c in 0..C {
                for ky in 0..K {
                    for kx in 0..K {
                        let w = self.w[f][c][ky][kx];
                        for y in 0..O {
                            for xo in 0..O {
                                z[f][y][xo] += w * x[c][y + ky][xo + kx];
                            }
                        }
                    }
                }
            }
        }
    }

    /// `dx = wᵀ ⋆ delta`.
    #[inline]
    fn input_grad(&self, delta: &[[[f32; O]; O]; F], dx: &mut [[[f32; H]; H]; C]) {
        *dx = [[[0.0; H]; H]; C];
        for f in 0..F {
            for c in 0..C {
                for ky in 0..K {
                    for kx in 0..K {
                        let w = self.w[f][c][ky][kx];
                        for y in 0..O {
                            for xo in 0..O {
                                dx[c][y + ky][xo + kx] += w * delta[f][y][xo];
                            }
                        }
                    }
                }
            }
        }
    }

    /// `dL/dw` and `dL/db`, written into `grad` or added to it when `ACCUMULATE`.
    #[inline]
    fn param_grad<const ACCUMULATE: bool>(
        x: &[[[f32; H]; H]; C],
        delta: &[[[f32; O]; O]; F],
        grad: &mut Self,
    ) {
        for f in 0..F {
            for c in 0..C {
                for ky in 0..K {
                    for kx in 0..K {
                        let mut sum = 0.0;
                        for y in 0..O {
                            for xo in 0..O {
                                sum += delta[f][y][xo] * x[c][y + ky][xo + kx];
                            }
                        }
                        let g = &mut grad.w[f][c][ky][kx];
                        *g = if ACCUMULATE { *g + sum } else { sum };
                    }
                }
            }
            let mut sum = 0.0;
            for y in 0..O {
                for xo in 0..O {
                    sum += delta[f][y][xo];
                }
            }
            grad.b[f] = if ACCUMULATE { grad.b[f] + sum } else { sum };
        }
    }

    /// `p -= lr · g`.
    #[inline]
    fn update(&mut self, grad: &Self, lr: f32) {
        for (p, g) in self
            .w
            .as_flattened_mut()
            .as_flattened_mut()
            .as_flattened_mut()
            .iter_mut()
            .zip(grad.w.as_flattened().as_flattened().as_flattened())
        {
            *p -= lr * g;
        }
        for (p, g) in self.b.iter_mut().zip(&grad.b) {
            *p -= lr * g;
        }
    }

    /// Copies the parameters from the front of `params` (weights, then biases) and returns the
    /// rest.
    fn load<'a>(&mut self, params: &'a [f32]) -> &'a [f32] {
        let (w, rest) = params.split_at(F * C * K * K);
        let (b, rest) = rest.split_at(F);
        self.w.as_flattened_mut().as_flattened_mut().as_flattened_mut().copy_from_slice(w);
        self.b.copy_from_slice(b);
        rest
    }
}

/// 2 × 2 max pooling of `C` channels of `H × H` (`P = H / 2`), the first largest of each window
/// winning; `at` remembers its place in the window (0 to 3).
#[inline]
fn pool<const C: usize, const H: usize, const P: usize>(
    a: &[[[f32; H]; H]; C],
    out: &mut [[[f32; P]; P]; C],
    at: &mut [[[u8; P]; P]; C],
) {
    for c in 0..C {
        for y in 0..P {
            for x in 0..P {
                let mut best = a[c][2 * y][2 * x];
                let mut k = 0;
                for (j, v) in [a[c][2 * y][2 * x + 1], a[c][2 * y + 1][2 * x], a[c][2 * y + 1][2 * x + 1]]
                    .into_iter()
                    .enumerate()
                {
                    if v > best {
                        best = v;
                        k = j as u8 + 1;
                    }
                }
                out[c][y][x] = best;
                at[c][y][x] = k;
            }
        }
    }
}

/// The gradient of [`pool`]: each output's error to the place of its maximum, `relu'` applied.
#[inline]
fn unpool<const C: usize, const H: usize, const P: usize>(
    d: &[[[f32; P]; P]; C],
    at: &[[[u8; P]; P]; C],
    z: &[[[f32; H]; H]; C],
    dz: &mut [[[f32; H]; H]; C],
) {
    *dz = [[[0.0; H]; H]; C];
    for c in 0..C {
        for y in 0..P {
            for x in 0..P {
                let k = at[c][y][x] as usize;
                let (yy, xx) = (2 * y + k / 2, 2 * x + k % 2);
                dz[c][yy][xx] = d[c][y][x] * Relu::df(z[c][yy][xx], 0.0);
            }
        }
    }
}

/// The LeNet, hand-written.
#[derive(Clone, Debug, PartialEq)]
#[repr(C)]
pub struct LeNet {
    /// The first convolution.
    pub conv1: Conv<1, 28, 6, 5, 24>,
    /// The second convolution.
    pub conv2: Conv<6, 12, 16, 5, 8>,
    /// The dense head's first layer.
    pub fc1: Layer<256, 120>,
    /// The dense head's second layer.
    pub fc2: Layer<120, 84>,
    /// The output layer.
    pub output: Layer<84, 10>,
}

// SAFETY: arrays of `f32` only.
unsafe impl Zeroable for LeNet {}

/// What the forward pass stores for the backward pass.
struct Trace {
    z1: [[[f32; 24]; 24]; 6],
    at1: [[[u8; 12]; 12]; 6],
    p1: [[[f32; 12]; 12]; 6],
    z2: [[[f32; 8]; 8]; 16],
    at2: [[[u8; 4]; 4]; 16],
    p2: [f32; 256],
    z3: [f32; 120],
    a3: [f32; 120],
    z4: [f32; 84],
    a4: [f32; 84],
    z5: [f32; 10],
    a5: [f32; 10],
}

impl Trace {
    const ZERO: Self = Self {
        z1: [[[0.0; 24]; 24]; 6],
        at1: [[[0; 12]; 12]; 6],
        p1: [[[0.0; 12]; 12]; 6],
        z2: [[[0.0; 8]; 8]; 16],
        at2: [[[0; 4]; 4]; 16],
        p2: [0.0; 256],
        z3: [0.0; 120],
        a3: [0.0; 120],
        z4: [0.0; 84],
        a4: [0.0; 84],
        z5: [0.0; 10],
        a5: [0.0; 10],
    };
}

/// `a = relu(z)`, element by element.
#[inline]
fn relu(z: &[f32], a: &mut [f32]) {
    for (a, &z) in a.iter_mut().zip(z) {
        *a = Relu::f(z);
    }
}

impl LeNet {
    /// Copies every parameter from `params` (the order of `backprop::Params`).
    pub fn load(&mut self, params: &[f32]) {
        let rest = self.conv1.load(params);
        let rest = self.conv2.load(rest);
        let rest = self.fc1.load(rest);
        let rest = self.fc2.load(rest);
        let rest = self.output.load(rest);
        assert!(rest.is_empty(), "{} parameters too many", rest.len());
    }

    #[inline]
    fn forward_trace(&self, x: &[[[f32; 28]; 28]; 1], t: &mut Trace) {
        self.conv1.forward(x, &mut t.z1);
        let mut a1 = [[[0.0; 24]; 24]; 6];
        relu(t.z1.as_flattened().as_flattened(), a1.as_flattened_mut().as_flattened_mut());
        pool(&a1, &mut t.p1, &mut t.at1);
        self.conv2.forward(&t.p1, &mut t.z2);
        let mut a2 = [[[0.0; 8]; 8]; 16];
        relu(t.z2.as_flattened().as_flattened(), a2.as_flattened_mut().as_flattened_mut());
        let mut p2 = [[[0.0; 4]; 4]; 16];
        pool(&a2, &mut p2, &mut t.at2);
        t.p2.copy_from_slice(p2.as_flattened().as_flattened());
        Straight::affine(&self.fc1, &t.p2, &mut t.z3);
        relu(&t.z3, &mut t.a3);
        Straight::affine(&self.fc2, &t.a3, &mut t.z4);
        relu(&t.z4, &mut t.a4);
        Straight::affine(&self.output, &t.a4, &mut t.z5);
        SoftmaxCrossEntropy::forward(&t.z5, &mut t.a5);
    }

    #[inline]
    fn backward<const ACCUMULATE: bool>(
        &self,
        x: &[[[f32; 28]; 28]; 1],
        t: &Trace,
        target: &[f32; CLASSES],
        grads: &mut Self,
    ) -> f32 {
        let mut d5 = [0.0; 10];
        let loss = SoftmaxCrossEntropy::loss_delta(&t.z5, &t.a5, target, &mut d5);
        Straight::param_grad::<84, 10, ACCUMULATE>(&t.a4, &d5, &mut grads.output);
        let mut d4 = [0.0; 84];
        Straight::input_grad(&self.output, &d5, &mut d4);
        for (d, &z) in d4.iter_mut().zip(&t.z4) {
            *d *= Relu::df(z, 0.0);
        }
        Straight::param_grad::<120, 84, ACCUMULATE>(&t.a3, &d4, &mut grads.fc2);
        let mut d3 = [0.0; 120];
        Straight::input_grad(&self.fc2, &d4, &mut d3);
        for (d, &z) in d3.iter_mut().zip(&t.z3) {
            *d *= Relu::df(z, 0.0);
        }
        Straight::param_grad::<256, 120, ACCUMULATE>(&t.p2, &d3, &mut grads.fc1);
        let mut dp2 = [0.0; 256];
        Straight::input_grad(&self.fc1, &d3, &mut dp2);
        let dp2: &[[[f32; 4]; 4]; 16] = backprop::conv::flatten(&dp2);
        let mut dz2 = [[[0.0; 8]; 8]; 16];
        unpool(dp2, &t.at2, &t.z2, &mut dz2);
        Conv::param_grad::<ACCUMULATE>(&t.p1, &dz2, &mut grads.conv2);
        let mut dp1 = [[[0.0; 12]; 12]; 6];
        self.conv2.input_grad(&dz2, &mut dp1);
        let mut dz1 = [[[0.0; 24]; 24]; 6];
        unpool(&dp1, &t.at1, &t.z1, &mut dz1);
        Conv::param_grad::<ACCUMULATE>(x, &dz1, &mut grads.conv1);
        loss
    }

    #[inline]
    fn update(&mut self, grads: &Self, lr: f32) {
        self.conv1.update(&grads.conv1, lr);
        self.conv2.update(&grads.conv2, lr);
        Straight::update(&mut self.fc1, &grads.fc1, lr);
        Straight::update(&mut self.fc2, &grads.fc2, lr);
        Straight::update(&mut self.output, &grads.output, lr);
    }

    /// Inference: the class probabilities for one image.
    #[inline]
    pub fn forward(&self, x: &[f32; INPUTS]) -> [f32; CLASSES] {
        let mut t = Trace::ZERO;
        self.forward_trace(image(x), &mut t);
        t.a5
    }

    /// Forward, backward into `grads`, then `p -= lr · g`; returns the loss before the step.
    #[inline]
    pub fn train_step(
        &mut self,
        x: &[f32; INPUTS],
        target: &[f32; CLASSES],
        lr: f32,
        grads: &mut Self,
    ) -> f32 {
        let x = image(x);
        let mut trace = Trace::ZERO;
        self.forward_trace(x, &mut trace);
        let loss = self.backward::<false>(x, &trace, target, grads);
        self.update(grads, lr);
        loss
    }

    /// One step on a mini-batch: the samples' gradients summed into `grads`, then
    /// `p -= (lr / B) · g`; returns the mean loss before the step.
    pub fn train_step_batch(
        &mut self,
        xs: &[[f32; INPUTS]; BATCH],
        targets: &[[f32; CLASSES]; BATCH],
        lr: f32,
        grads: &mut Self,
    ) -> f32 {
        let mut total = 0.0;
        let mut trace = Trace::ZERO;
        for (k, (x, t)) in xs.iter().zip(targets).enumerate() {
            let x = image(x);
            self.forward_trace(x, &mut trace);
            total += if k == 0 {
                self.backward::<false>(x, &trace, t, grads)
            } else {
                self.backward::<true>(x, &trace, t, grads)
            };
        }
        self.update(grads, lr / BATCH as f32);
        total / BATCH as f32
    }
}

/// A flat image as one channel of 28 × 28 (the same memory).
#[inline]
fn image(x: &[f32; INPUTS]) -> &[[[f32; 28]; 28]; 1] {
    backprop::conv::flatten(x)
}
