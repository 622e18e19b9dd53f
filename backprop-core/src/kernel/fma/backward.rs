//! The FMA kernels of the backward pass and of the updates: the first layer's row-by-row
//! updates, `Wᵀ delta` with the gradient or the update of each row in the same pass, and the
//! batched outer products (see the module docs of [`fma`](super) for their tiles), written over
//! [`Wide`] as the forward pass is.

use super::Micro;
use crate::kernel::common::for_rows_to_update;
use crate::kernel::unroll;
use crate::kernel::wide::{LANES, Wide, load, store, tail_bits};

/// `W += step · delta xᵀ` and `b += step · delta` (see [`kernel::sgd`](crate::kernel::sgd)):
/// `w = fma(step·d, x, w)`.
#[inline(always)]
pub(super) fn sgd<F: Wide, const I: usize, const O: usize>(
    f: F,
    w: &mut [[f32; I]; O],
    b: &mut [f32; O],
    x: &[f32; I],
    delta: &[f32; O],
    step: f32,
) {
    for_rows_to_update(w, b, delta, step, |w, b, scaled| {
        outer_row(f, Outer::Add(scaled), x, w);
        *b += scaled;
    });
}

/// What [`outer_row`] does with `d x` for one row `g`.
#[derive(Clone, Copy)]
enum Outer {
    /// `g = d x`.
    Write(f32),
    /// `g = fma(d, x, g)`.
    Add(f32),
}

/// One row of an outer product (see [`Outer`]).
#[inline(always)]
fn outer_row<F: Wide, const I: usize>(f: F, op: Outer, x: &[f32; I], g: &mut [f32; I]) {
    #[inline(always)]
    fn chunk<F: Wide, const MASKED: bool>(f: F, op: Outer, x: *const f32, g: *mut f32, c: usize, mask: F::M) {
        // SAFETY: the caller passes a chunk within both rows (masked when partial).
        unsafe {
            let x = load::<F, MASKED>(f, x, c, mask);
            let v = match op {
                Outer::Write(d) => f.mul(f.splat(d), x),
                Outer::Add(d) => f.mul_add(f.splat(d), x, load::<F, MASKED>(f, g, c, mask)),
            };
            store::<F, MASKED>(f, g, c, mask, v);
        }
    }
    for c in 0..I / LANES {
        chunk::<F, false>(f, op, x.as_ptr(), g.as_mut_ptr(), c, f.mask(0));
    }
    if !I.is_multiple_of(LANES) {
        chunk::<F, true>(f, op, x.as_ptr(), g.as_mut_ptr(), I / LANES, f.mask(tail_bits(I)));
    }
}

/// `grad = delta xᵀ`, or `grad += delta xᵀ` (see [`kernel::outer`](fn@crate::kernel::outer)).
#[inline(always)]
pub(super) fn outer<F: Wide, const I: usize, const O: usize>(
    f: F,
    grad: &mut [[f32; I]; O],
    x: &[f32; I],
    delta: &[f32; O],
    accumulate: bool,
) {
    for (g, &d) in grad.iter_mut().zip(delta) {
        outer_row(f, if accumulate { Outer::Add(d) } else { Outer::Write(d) }, x, g);
    }
}

/// What [`transpose_cols`] does to `W` (or its gradient) as the rows stream by.
#[derive(Clone, Copy)]
pub(super) enum Rows {
    /// Writes `grad = delta xᵀ` (`+=` when `true`) beside `W`.
    Grad(*mut f32, bool),
    /// Updates `W = fma(step · d, x, W)` after reading it.
    Sgd(f32),
}

/// Chunks `c0 .. c0 + C` of `dx = Wᵀ delta`, summed over the rows in order (`fma(d, w, acc)`
/// from `-0.0`), with [`Rows`] applied to the same chunks of every row.
///
/// # Safety
///
/// `w` is `O` rows of `I` (writable for `Rows::Sgd`), a gradient of `Rows::Grad` likewise (and
/// writable); the chunks lie within the rows (with `MASKED`, `C = 1` and the chunk is the tail).
#[inline(always)]
pub(super) unsafe fn transpose_cols<
    F: Wide,
    const I: usize,
    const O: usize,
    const C: usize,
    const MASKED: bool,
>(
    f: F,
    w: *mut f32,
    rows: Rows,
    x: &[f32; I],
    delta: &[f32; O],
    dx: &mut [f32; I],
    c0: usize,
) {
    let mask = f.mask(tail_bits(I));
    let mut acc = [f.splat(-0.0); C];
    // SAFETY: the chunks lie within every row (the caller's), and row `o < O` within `w`.
    unsafe {
        // Unrolled over the tile: it stays in registers at every opt-level (see `unroll!`).
        let mut xs = [f.zero(); C];
        unroll!(k < C, [0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15], {
            xs[k] = load::<F, MASKED>(f, x.as_ptr(), c0 + k, mask);
        });
        for o in 0..O {
            let d = f.splat(delta[o]);
            let row = w.add(o * I);
            unroll!(k < C, [0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15], {
                let wv = load::<F, MASKED>(f, row, c0 + k, mask);
                acc[k] = f.mul_add(d, wv, acc[k]);
                match rows {
                    Rows::Grad(grad, accumulate) => {
                        let g = grad.add(o * I);
                        let v = if accumulate {
                            f.mul_add(d, xs[k], load::<F, MASKED>(f, g, c0 + k, mask))
                        } else {
                            f.mul(d, xs[k])
                        };
                        store::<F, MASKED>(f, g, c0 + k, mask, v);
                    }
                    Rows::Sgd(step) => {
                        let scaled = f.splat(step * delta[o]);
                        store::<F, MASKED>(f, row, c0 + k, mask, f.mul_add(scaled, xs[k], wv));
                    }
                }
            });
        }
        for k in 0..C {
            store::<F, MASKED>(f, dx.as_mut_ptr(), c0 + k, mask, acc[k]);
        }
    }
}

/// [`transpose_cols`] over every chunk: blocks of 8 chunks (3 on AVX2) in registers, then single
/// chunks, then the masked tail.
///
/// # Safety
///
/// As [`transpose_cols`], for the whole rows.
#[inline(always)]
unsafe fn transpose<F: Micro, const I: usize, const O: usize>(
    f: F,
    w: *mut f32,
    rows: Rows,
    x: &[f32; I],
    delta: &[f32; O],
    dx: &mut [f32; I],
) {
    // SAFETY: the caller's.
    unsafe {
        if const { F::REGISTERS >= 32 } {
            transpose_blocks::<F, I, O, 8>(f, w, rows, x, delta, dx)
        } else {
            transpose_blocks::<F, I, O, 3>(f, w, rows, x, delta, dx)
        }
    }
}

/// [`transpose`] with blocks of `C` chunks.
///
/// # Safety
///
/// As [`transpose_cols`], for the whole rows.
#[inline(always)]
unsafe fn transpose_blocks<F: Micro, const I: usize, const O: usize, const C: usize>(
    f: F,
    w: *mut f32,
    rows: Rows,
    x: &[f32; I],
    delta: &[f32; O],
    dx: &mut [f32; I],
) {
    let chunks = I / LANES;
    let blocked = chunks - chunks % C;
    // SAFETY: every chunk below lies within the rows; the last, partial one is masked.
    unsafe {
        for c in (0..blocked).step_by(C) {
            f.transpose_cols::<I, O, C, false>(w, rows, x, delta, dx, c);
        }
        for c in blocked..chunks {
            f.transpose_cols::<I, O, 1, false>(w, rows, x, delta, dx, c);
        }
        if !I.is_multiple_of(LANES) {
            f.transpose_cols::<I, O, 1, true>(w, rows, x, delta, dx, chunks);
        }
    }
}

/// `dx = Wᵀ delta` and `grad = delta xᵀ` (`+=` when `accumulate`), one pass over `W` (see
/// [`kernel::backward`](crate::kernel::backward)).
#[inline(always)]
pub(super) fn backward<F: Micro, const I: usize, const O: usize>(
    f: F,
    w: &[[f32; I]; O],
    grad: &mut [[f32; I]; O],
    x: &[f32; I],
    delta: &[f32; O],
    dx: &mut [f32; I],
    accumulate: bool,
) {
    let grad = Rows::Grad(grad.as_flattened_mut().as_mut_ptr(), accumulate);
    // SAFETY: `w` and `grad` are `O` rows of `I`; `w` is only read (`Rows::Grad`).
    unsafe { transpose(f, w.as_flattened().as_ptr().cast_mut(), grad, x, delta, dx) }
}

/// `dx = Wᵀ delta` with the weights as they are, then `W += step · delta xᵀ`, one pass over `W`
/// (see [`kernel::backward_sgd`](crate::kernel::backward_sgd)).
#[inline(always)]
pub(super) fn backward_sgd<F: Micro, const I: usize, const O: usize>(
    f: F,
    w: &mut [[f32; I]; O],
    x: &[f32; I],
    delta: &[f32; O],
    step: f32,
    dx: &mut [f32; I],
) {
    // SAFETY: `w` is `O` rows of `I`, writable.
    unsafe { transpose(f, w.as_flattened_mut().as_mut_ptr(), Rows::Sgd(step), x, delta, dx) }
}

/// `dxs[s] = Wᵀ deltas[s]` for every sample (see [`kernel::gemm_t`](crate::kernel::gemm_t)), each
/// equal to the `dx` of [`backward`]: tiles of 4 samples × 2 chunks (2 × 2 on AVX2).
#[inline(always)]
pub(super) fn gemm_t<F: Micro, const I: usize, const O: usize>(
    f: F,
    w: &[[f32; I]; O],
    deltas: &[[f32; O]],
    dxs: &mut [[f32; I]],
) {
    if const { F::REGISTERS >= 32 } {
        gemm_t_tiles::<F, I, O, 4, 2>(f, w, deltas, dxs)
    } else {
        gemm_t_tiles::<F, I, O, 2, 2>(f, w, deltas, dxs)
    }
}

/// [`gemm_t`] in tiles of `S` samples × `C` chunks.
#[inline(always)]
fn gemm_t_tiles<F: Micro, const I: usize, const O: usize, const S: usize, const C: usize>(
    f: F,
    w: &[[f32; I]; O],
    deltas: &[[f32; O]],
    dxs: &mut [[f32; I]],
) {
    /// Every chunk of `S` samples.
    #[inline(always)]
    fn samples<F: Micro, const I: usize, const O: usize, const S: usize, const C: usize>(
        f: F,
        w: &[[f32; I]; O],
        deltas: [&[f32; O]; S],
        dxs: [*mut f32; S],
    ) {
        let chunks = I / LANES;
        let blocked = chunks - chunks % C;
        // SAFETY (every tile): the chunks lie within the rows, the partial one masked; `dxs` are
        // rows of `I` (the caller's).
        unsafe {
            for c in (0..blocked).step_by(C) {
                f.gemm_t_tile::<I, O, S, C, false>(w, deltas, dxs, c);
            }
            for c in blocked..chunks {
                f.gemm_t_tile::<I, O, S, 1, false>(w, deltas, dxs, c);
            }
            if !I.is_multiple_of(LANES) {
                f.gemm_t_tile::<I, O, S, 1, true>(w, deltas, dxs, chunks);
            }
        }
    }
    let n = deltas.len().min(dxs.len());
    let (d_tiles, d_rest) = deltas[..n].as_chunks::<S>();
    let (dx_tiles, dx_rest) = dxs[..n].as_chunks_mut::<S>();
    for (d, dx) in d_tiles.iter().zip(dx_tiles) {
        let d = core::array::from_fn(|s| &d[s]);
        let dx = core::array::from_fn(|s| dx[s].as_mut_ptr());
        samples::<F, I, O, S, C>(f, w, d, dx);
    }
    for (d, dx) in d_rest.iter().zip(dx_rest) {
        samples::<F, I, O, 1, C>(f, w, [d], [dx.as_mut_ptr()]);
    }
}

/// Chunks `c0 .. c0 + C` of `dxs[s] = Wᵀ deltas[s]` for `S` samples (the micro-kernel of
/// [`gemm_t`]).
///
/// # Safety
///
/// The chunks lie within the rows (with `MASKED`, `C = 1` and the chunk is the tail); `dxs[s]`
/// are rows of `I`, writable.
#[inline(always)]
pub(super) unsafe fn gemm_t_tile<
    F: Wide,
    const I: usize,
    const O: usize,
    const S: usize,
    const C: usize,
    const MASKED: bool,
>(
    f: F,
    w: &[[f32; I]; O],
    deltas: [&[f32; O]; S],
    dxs: [*mut f32; S],
    c0: usize,
) {
    let mask = f.mask(tail_bits(I));
    let mut acc = [[f.splat(-0.0); C]; S];
    for o in 0..O {
        // Unrolled: the tile stays in registers at every opt-level (see `unroll!`).
        let mut wv = f.zero();
        unroll!((k, s) < (C, S), [0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15], {
            if s == 0 {
                // SAFETY: the chunk lies within the row (the caller's).
                wv = unsafe { load::<F, MASKED>(f, w[o].as_ptr(), c0 + k, mask) };
            }
            acc[s][k] = f.mul_add(f.splat(deltas[s][o]), wv, acc[s][k]);
        });
    }
    for s in 0..S {
        for k in 0..C {
            // SAFETY: `dxs[s]` is a row of `I`, the chunk within it (the caller's).
            unsafe { store::<F, MASKED>(f, dxs[s], c0 + k, mask, acc[s][k]) };
        }
    }
}
