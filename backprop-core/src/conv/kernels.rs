//! The direct-convolution kernels behind [`Conv1d`](super::Conv1d) and [`Conv2d`](super::Conv2d),
//! on channels × height × width (a 1-d convolution is one row), and the batched passes that every
//! kind of this module shares.

use super::taps;
use crate::Scalar;
use crate::activation::Activation;
use crate::kernel::BATCH_TILE;
use crate::layer::{Layer, LayerBatch};

/// The geometry of one convolution: stride and the zeros before the input (rows, columns).
#[derive(Clone, Copy)]
pub(super) struct Geometry {
    pub s: usize,
    pub pad_top: usize,
    pub pad_left: usize,
}

/// `z[f] = b[f] + Σ_c w[f][c] ⋆ x[c]` (cross-correlation, as PyTorch and JAX).
#[inline(always)]
pub(super) fn forward<
    T: Scalar,
    const C: usize,
    const H: usize,
    const W: usize,
    const F: usize,
    const KH: usize,
    const KW: usize,
    const HO: usize,
    const WO: usize,
>(
    w: &[[[[T; KW]; KH]; C]; F],
    b: &[T; F],
    x: &[[[T; W]; H]; C],
    z: &mut [[[T; WO]; HO]; F],
    g: Geometry,
) {
    for ((zf, wf), &bf) in z.iter_mut().zip(w).zip(b) {
        for v in zf.as_flattened_mut() {
            *v = bf;
        }
        for (xc, wc) in x.iter().zip(wf) {
            for (wrow, ky) in wc.iter().zip(0..KH) {
                for (&wv, kx) in wrow.iter().zip(0..KW) {
                    for (zrow, xrow) in taps(zf.iter_mut(), xc.iter(), ky, g.pad_top, g.s) {
                        for (zv, &xv) in taps(zrow.iter_mut(), xrow.iter(), kx, g.pad_left, g.s) {
                            *zv += wv * xv;
                        }
                    }
                }
            }
        }
    }
}

/// `dx = Σ_f w[f] ⋆ᵀ delta[f]`: the gradient of the input (the transposed convolution).
#[inline(always)]
pub(super) fn input_grad<
    T: Scalar,
    const C: usize,
    const H: usize,
    const W: usize,
    const F: usize,
    const KH: usize,
    const KW: usize,
    const HO: usize,
    const WO: usize,
>(
    w: &[[[[T; KW]; KH]; C]; F],
    delta: &[[[T; WO]; HO]; F],
    dx: &mut [[[T; W]; H]; C],
    g: Geometry,
) {
    for v in dx.as_flattened_mut().as_flattened_mut() {
        *v = T::ZERO;
    }
    for (df, wf) in delta.iter().zip(w) {
        for (dxc, wc) in dx.iter_mut().zip(wf) {
            for (wrow, ky) in wc.iter().zip(0..KH) {
                for (&wv, kx) in wrow.iter().zip(0..KW) {
                    for (drow, dxrow) in taps(df.iter(), dxc.iter_mut(), ky, g.pad_top, g.s) {
                        for (&d, dxv) in taps(drow.iter(), dxrow.iter_mut(), kx, g.pad_left, g.s) {
                            *dxv += wv * d;
                        }
                    }
                }
            }
        }
    }
}

/// The weight gradients `dL/dw[f][c][i][j] = Σ_{y,x} delta[f][y][x] · x[c][y·s + i - pad][x·s + j - pad]`
/// in the order of the weights, each handed to `sink`; then the bias gradients
/// `Σ_{y,x} delta[f][y][x]`, each handed to `bias`.
#[inline(always)]
pub(super) fn param_grads<
    T: Scalar,
    const C: usize,
    const H: usize,
    const W: usize,
    const F: usize,
    const KH: usize,
    const KW: usize,
    const HO: usize,
    const WO: usize,
>(
    x: &[[[T; W]; H]; C],
    delta: &[[[T; WO]; HO]; F],
    g: Geometry,
    mut sink: impl FnMut(T),
    mut bias: impl FnMut(T),
) {
    for df in delta {
        for xc in x {
            for ky in 0..KH {
                for kx in 0..KW {
                    let mut sum = T::ZERO;
                    for (drow, xrow) in taps(df.iter(), xc.iter(), ky, g.pad_top, g.s) {
                        for (&d, &xv) in taps(drow.iter(), xrow.iter(), kx, g.pad_left, g.s) {
                            sum += d * xv;
                        }
                    }
                    sink(sum);
                }
            }
        }
    }
    for df in delta {
        let mut sum = T::ZERO;
        for &d in df.as_flattened() {
            sum += d;
        }
        bias(sum);
    }
}

/// Writes (or, when `ACCUMULATE`, adds) the gradients into `grad`, weights then biases in the
/// order of [`Params::params`].
#[inline(always)]
pub(super) fn store_grads<
    T: Scalar,
    const ACCUMULATE: bool,
    const C: usize,
    const H: usize,
    const W: usize,
    const F: usize,
    const KH: usize,
    const KW: usize,
    const HO: usize,
    const WO: usize,
>(
    x: &[[[T; W]; H]; C],
    delta: &[[[T; WO]; HO]; F],
    g: Geometry,
    grad_w: &mut [T],
    grad_b: &mut [T; F],
) {
    let mut gw = grad_w.iter_mut();
    let mut gb = grad_b.iter_mut();
    param_grads::<T, C, H, W, F, KH, KW, HO, WO>(
        x,
        delta,
        g,
        |v| {
            if let Some(slot) = gw.next() {
                *slot = if ACCUMULATE { *slot + v } else { v };
            }
        },
        |v| {
            if let Some(slot) = gb.next() {
                *slot = if ACCUMULATE { *slot + v } else { v };
            }
        },
    );
}

/// The SGD step `p += (-lr) · dL/dp` for one sample, weights in the order of `w`.
#[inline(always)]
pub(super) fn sgd<
    T: Scalar,
    const C: usize,
    const H: usize,
    const W: usize,
    const F: usize,
    const KH: usize,
    const KW: usize,
    const HO: usize,
    const WO: usize,
>(
    x: &[[[T; W]; H]; C],
    delta: &[[[T; WO]; HO]; F],
    g: Geometry,
    w: &mut [T],
    b: &mut [T; F],
    lr: T,
) {
    let (mut w, mut b) = (w.iter_mut(), b.iter_mut());
    param_grads::<T, C, H, W, F, KH, KW, HO, WO>(
        x,
        delta,
        g,
        |v| {
            if let Some(p) = w.next() {
                *p += -lr * v;
            }
        },
        |v| {
            if let Some(p) = b.next() {
                *p += -lr * v;
            }
        },
    );
}

/// What the shared batched passes need of a kind beyond [`Layer`]: its pre-activation alone and
/// its activation.
pub(super) trait Direct<T: Scalar>: Layer<T> {
    /// `z` for input `x`.
    fn pre_activation(&self, x: &Self::Input, z: &mut Self::Output);
    /// `a = A(z)`.
    fn activate<A: Activation>(z: &Self::Output, a: &mut Self::Output);
}

/// [`Layer::forward_batch`], sample by sample.
#[inline(always)]
pub(super) fn forward_batch<T: Scalar, L: Direct<T>, A: Activation>(
    layer: &L,
    xs: &[L::Input],
    out: &mut LayerBatch<L::Output>,
) {
    out.len = xs.len().min(BATCH_TILE);
    for ((x, z), a) in xs.iter().zip(&mut out.z).zip(&mut out.a) {
        layer.pre_activation(x, z);
        L::activate::<A>(z, a);
    }
}

/// [`Layer::backward_batch`], sample by sample: `below.delta` written, the gradients added.
#[inline(always)]
pub(super) fn backward_batch<T: Scalar, L: Layer<T>>(
    layer: &L,
    below: &mut LayerBatch<L::Input>,
    this: &LayerBatch<L::Output>,
    grad: &mut L,
) {
    let n = below.len.min(BATCH_TILE);
    let (xs, dxs) = (&below.a[..n], &mut below.delta[..n]);
    for ((x, dx), d) in xs.iter().zip(dxs).zip(this.deltas()) {
        layer.backward::<true>(x, d, grad, dx);
    }
}

/// [`Layer::backward_batch_params`], sample by sample.
#[inline(always)]
pub(super) fn backward_batch_params<T: Scalar, L: Layer<T>>(
    layer: &L,
    xs: &[L::Input],
    this: &LayerBatch<L::Output>,
    grad: &mut L,
) {
    for (x, d) in xs.iter().zip(this.deltas()) {
        layer.backward_params::<true>(x, d, grad);
    }
}

/// `grad ← scale · grad`, then `p += (-lr) · grad`.
#[inline(always)]
pub(super) fn apply<T: Scalar, L: Layer<T>>(layer: &mut L, grad: &mut L, scale: T, lr: T) {
    grad.scale(scale);
    for (p, &g) in layer.params_mut().iter_mut().zip(grad.params()) {
        *p += -lr * g;
    }
}
