//! The FMA kernels of the backward pass and of the updates: the first layer's row-by-row
//! updates, `Wᵀ delta` with the gradient or the update of each row in the same pass, and the
//! batched outer products (see the module docs of [`avx512`](super) for their tiles).

use super::{LANES, load, store, tail_mask};
use crate::kernel::common::for_rows_to_update;
use core::arch::x86_64::*;

/// `W += step · delta xᵀ` and `b += step · delta` (see [`kernel::sgd`](crate::kernel::sgd)):
/// `w = fma(step·d, x, w)`.
#[target_feature(enable = "avx512f")]
#[inline(never)]
pub(super) fn sgd<const I: usize, const O: usize>(
    w: &mut [[f32; I]; O],
    b: &mut [f32; O],
    x: &[f32; I],
    delta: &[f32; O],
    step: f32,
) {
    for_rows_to_update(w, b, delta, step, |w, b, scaled| {
        outer_row(Outer::Add(scaled), x, w);
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
#[target_feature(enable = "avx512f")]
#[inline]
fn outer_row<const I: usize>(op: Outer, x: &[f32; I], g: &mut [f32; I]) {
    #[target_feature(enable = "avx512f")]
    #[inline]
    fn chunk<const MASKED: bool>(op: Outer, x: *const f32, g: *mut f32, c: usize, mask: __mmask16) {
        // SAFETY: the caller passes a chunk within both rows (masked when partial).
        unsafe {
            let x = load::<MASKED>(x, c, mask);
            let v = match op {
                Outer::Write(d) => _mm512_mul_ps(_mm512_set1_ps(d), x),
                Outer::Add(d) => _mm512_fmadd_ps(_mm512_set1_ps(d), x, load::<MASKED>(g, c, mask)),
            };
            store::<MASKED>(g, c, mask, v);
        }
    }
    for c in 0..I / LANES {
        chunk::<false>(op, x.as_ptr(), g.as_mut_ptr(), c, 0);
    }
    if !I.is_multiple_of(LANES) {
        chunk::<true>(op, x.as_ptr(), g.as_mut_ptr(), I / LANES, tail_mask(I));
    }
}

/// `grad = delta xᵀ`, or `grad += delta xᵀ` (see [`kernel::outer`](crate::kernel::outer)).
#[target_feature(enable = "avx512f")]
#[inline(never)]
pub(super) fn outer<const I: usize, const O: usize>(
    grad: &mut [[f32; I]; O],
    x: &[f32; I],
    delta: &[f32; O],
    accumulate: bool,
) {
    for (g, &d) in grad.iter_mut().zip(delta) {
        outer_row(if accumulate { Outer::Add(d) } else { Outer::Write(d) }, x, g);
    }
}

/// What [`transpose_cols`] does to `W` (or its gradient) as the rows stream by.
#[derive(Clone, Copy)]
enum Rows {
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
#[target_feature(enable = "avx512f")]
#[inline]
unsafe fn transpose_cols<const I: usize, const O: usize, const C: usize, const MASKED: bool>(
    w: *mut f32,
    rows: Rows,
    x: &[f32; I],
    delta: &[f32; O],
    dx: &mut [f32; I],
    c0: usize,
) {
    let mask = tail_mask(I);
    let mut acc = [_mm512_set1_ps(-0.0); C];
    // SAFETY: the chunks lie within every row (the caller's), and row `o < O` within `w`.
    unsafe {
        let mut xs = [_mm512_setzero_ps(); C];
        for k in 0..C {
            xs[k] = load::<MASKED>(x.as_ptr(), c0 + k, mask);
        }
        for o in 0..O {
            let d = _mm512_set1_ps(delta[o]);
            let row = w.add(o * I);
            for k in 0..C {
                let wv = load::<MASKED>(row, c0 + k, mask);
                acc[k] = _mm512_fmadd_ps(d, wv, acc[k]);
                match rows {
                    Rows::Grad(grad, accumulate) => {
                        let g = grad.add(o * I);
                        let v = if accumulate {
                            _mm512_fmadd_ps(d, xs[k], load::<MASKED>(g, c0 + k, mask))
                        } else {
                            _mm512_mul_ps(d, xs[k])
                        };
                        store::<MASKED>(g, c0 + k, mask, v);
                    }
                    Rows::Sgd(step) => {
                        let scaled = _mm512_set1_ps(step * delta[o]);
                        store::<MASKED>(row, c0 + k, mask, _mm512_fmadd_ps(scaled, xs[k], wv));
                    }
                }
            }
        }
        for k in 0..C {
            store::<MASKED>(dx.as_mut_ptr(), c0 + k, mask, acc[k]);
        }
    }
}

/// Chunks of `Wᵀ delta` kept in registers at once while the rows stream by.
const TRANSPOSE_CHUNKS: usize = 8;

/// [`transpose_cols`] over every chunk: blocks of [`TRANSPOSE_CHUNKS`], then single chunks, then
/// the masked tail.
///
/// # Safety
///
/// As [`transpose_cols`], for the whole rows.
#[target_feature(enable = "avx512f")]
#[inline]
unsafe fn transpose<const I: usize, const O: usize>(
    w: *mut f32,
    rows: Rows,
    x: &[f32; I],
    delta: &[f32; O],
    dx: &mut [f32; I],
) {
    let chunks = I / LANES;
    let blocked = chunks - chunks % TRANSPOSE_CHUNKS;
    // SAFETY: every chunk below lies within the rows; the last, partial one is masked.
    unsafe {
        for c in (0..blocked).step_by(TRANSPOSE_CHUNKS) {
            transpose_cols::<I, O, TRANSPOSE_CHUNKS, false>(w, rows, x, delta, dx, c);
        }
        for c in blocked..chunks {
            transpose_cols::<I, O, 1, false>(w, rows, x, delta, dx, c);
        }
        if !I.is_multiple_of(LANES) {
            transpose_cols::<I, O, 1, true>(w, rows, x, delta, dx, chunks);
        }
    }
}

/// `dx = Wᵀ delta` and `grad = delta xᵀ` (`+=` when `accumulate`), one pass over `W` (see
/// [`kernel::backward`](crate::kernel::backward)).
#[target_feature(enable = "avx512f")]
#[inline(never)]
pub(super) fn backward<const I: usize, const O: usize>(
    w: &[[f32; I]; O],
    grad: &mut [[f32; I]; O],
    x: &[f32; I],
    delta: &[f32; O],
    dx: &mut [f32; I],
    accumulate: bool,
) {
    let grad = Rows::Grad(grad.as_flattened_mut().as_mut_ptr(), accumulate);
    // SAFETY: `w` and `grad` are `O` rows of `I`; `w` is only read (`Rows::Grad`).
    unsafe { transpose(w.as_flattened().as_ptr().cast_mut(), grad, x, delta, dx) }
}

/// `dx = Wᵀ delta` with the weights as they are, then `W += step · delta xᵀ`, one pass over `W`
/// (see [`kernel::backward_sgd`](crate::kernel::backward_sgd)).
#[target_feature(enable = "avx512f")]
#[inline(never)]
pub(super) fn backward_sgd<const I: usize, const O: usize>(
    w: &mut [[f32; I]; O],
    x: &[f32; I],
    delta: &[f32; O],
    step: f32,
    dx: &mut [f32; I],
) {
    // SAFETY: `w` is `O` rows of `I`, writable.
    unsafe { transpose(w.as_flattened_mut().as_mut_ptr(), Rows::Sgd(step), x, delta, dx) }
}

/// Samples × chunks of the batched `Wᵀ delta` tile.
const T_SAMPLES: usize = 4;
const T_CHUNKS: usize = 2;

/// `dxs[s] = Wᵀ deltas[s]` for every sample (see [`kernel::gemm_t`](crate::kernel::gemm_t)), each
/// equal to the `dx` of [`backward`].
#[target_feature(enable = "avx512f")]
#[inline(never)]
pub(super) fn gemm_t<const I: usize, const O: usize>(
    w: &[[f32; I]; O],
    deltas: &[[f32; O]],
    dxs: &mut [[f32; I]],
) {
    /// Chunks `c0 .. c0 + C` of `S` samples.
    #[target_feature(enable = "avx512f")]
    #[inline]
    fn tile<const I: usize, const O: usize, const S: usize, const C: usize, const MASKED: bool>(
        w: &[[f32; I]; O],
        deltas: [&[f32; O]; S],
        dxs: [*mut f32; S],
        c0: usize,
    ) {
        let mask = tail_mask(I);
        let mut acc = [[_mm512_set1_ps(-0.0); C]; S];
        for o in 0..O {
            for k in 0..C {
                // SAFETY: the callers pass chunks within the rows (masked when partial).
                let wv = unsafe { load::<MASKED>(w[o].as_ptr(), c0 + k, mask) };
                for s in 0..S {
                    acc[s][k] = _mm512_fmadd_ps(_mm512_set1_ps(deltas[s][o]), wv, acc[s][k]);
                }
            }
        }
        for s in 0..S {
            for k in 0..C {
                // SAFETY: `dxs[s]` is a row of `I`, the chunk within it.
                unsafe { store::<MASKED>(dxs[s], c0 + k, mask, acc[s][k]) };
            }
        }
    }
    /// Every chunk of `S` samples.
    #[target_feature(enable = "avx512f")]
    #[inline]
    fn samples<const I: usize, const O: usize, const S: usize>(
        w: &[[f32; I]; O],
        deltas: [&[f32; O]; S],
        dxs: [*mut f32; S],
    ) {
        let chunks = I / LANES;
        let blocked = chunks - chunks % T_CHUNKS;
        for c in (0..blocked).step_by(T_CHUNKS) {
            tile::<I, O, S, T_CHUNKS, false>(w, deltas, dxs, c);
        }
        for c in blocked..chunks {
            tile::<I, O, S, 1, false>(w, deltas, dxs, c);
        }
        if !I.is_multiple_of(LANES) {
            tile::<I, O, S, 1, true>(w, deltas, dxs, chunks);
        }
    }
    let n = deltas.len().min(dxs.len());
    let (d_tiles, d_rest) = deltas[..n].as_chunks::<T_SAMPLES>();
    let (dx_tiles, dx_rest) = dxs[..n].as_chunks_mut::<T_SAMPLES>();
    for (d, dx) in d_tiles.iter().zip(dx_tiles) {
        let d = core::array::from_fn(|s| &d[s]);
        let dx = core::array::from_fn(|s| dx[s].as_mut_ptr());
        samples::<I, O, T_SAMPLES>(w, d, dx);
    }
    for (d, dx) in d_rest.iter().zip(dx_rest) {
        samples::<I, O, 1>(w, [d], [dx.as_mut_ptr()]);
    }
}

/// Rows × chunks of the batched outer-product tile.
const OUTER_ROWS: usize = 4;
const OUTER_CHUNKS: usize = 4;

/// The weights' part of [`kernel::gemm_outer`](crate::kernel::gemm_outer) and
/// [`kernel::gemm_outer_sgd`](crate::kernel::gemm_outer_sgd): `grad += Σ_s deltas[s] xs[s]ᵀ`, or
/// with `sgd = Some((w, scale, lr))`, `grad = scale · Σ` and `W = fma(-lr, grad, W)`. The sums run
/// over the samples in order (`fma(d, x, acc)` from `-0.0`); `xs` and `deltas` have the same
/// length.
#[target_feature(enable = "avx512f")]
#[inline(never)]
pub(super) fn gemm_outer<const I: usize, const O: usize>(
    grad: &mut [[f32; I]; O],
    sgd: Option<(&mut [[f32; I]; O], f32, f32)>,
    xs: &[[f32; I]],
    deltas: &[[f32; O]],
) {
    let mode = match sgd {
        None => Mode::Add,
        Some((w, scale, lr)) => Mode::Sgd(w.as_flattened_mut().as_mut_ptr(), scale, lr),
    };
    // SAFETY: `grad` (and `w`) are `O` rows of `I`, writable.
    unsafe { outer_products::<I, O>(grad.as_flattened_mut().as_mut_ptr(), mode, xs, deltas) }
}

/// [`kernel::rank_update`](crate::kernel::rank_update): `W = fma(steps[s][o], xs[s][i], W)` for
/// every sample in order, as [`sgd`] once per sample would (`fma(step · delta, x, w)`), with `W`
/// read and written once; `xs` and `steps` have the same length.
#[target_feature(enable = "avx512f")]
#[inline(never)]
pub(super) fn rank_update<const I: usize, const O: usize>(
    w: &mut [[f32; I]; O],
    xs: &[[f32; I]],
    steps: &[[f32; O]],
) {
    // SAFETY: `w` is `O` rows of `I`, writable.
    unsafe { outer_products::<I, O>(w.as_flattened_mut().as_mut_ptr(), Mode::Update, xs, steps) }
}

/// What [`outer_products`] does with each tile's sums `Σ_s d_s x_sᵀ` and the matrix it is given.
#[derive(Clone, Copy)]
enum Mode {
    /// `grad += Σ`.
    Add,
    /// `grad = scale · Σ`, `w = fma(-lr, grad, w)` (`w`, `scale`, `lr`).
    Sgd(*mut f32, f32, f32),
    /// The sums start from the matrix itself, not from `-0.0`: `w = fma(d_s, x_s, w)` sample
    /// after sample.
    Update,
}

/// The batched outer products over `O` rows of `I` at `target`, in tiles of 4 rows × 4 chunks
/// of 16 columns (see [`Mode`]).
///
/// # Safety
///
/// `target` (and the weights of [`Mode::Sgd`]) are `O` rows of `I` `f32`s, writable.
#[target_feature(enable = "avx512f")]
#[inline]
unsafe fn outer_products<const I: usize, const O: usize>(
    target: *mut f32,
    mode: Mode,
    xs: &[[f32; I]],
    deltas: &[[f32; O]],
) {
    /// Rows `o0 .. o0 + R`, chunks `c0 .. c0 + C`.
    ///
    /// # Safety
    ///
    /// As [`outer_products`]; the rows and chunks lie within the matrices (with `MASKED`, `C = 1`
    /// and the chunk is the tail).
    #[target_feature(enable = "avx512f")]
    #[inline]
    unsafe fn tile<const I: usize, const O: usize, const R: usize, const C: usize, const MASKED: bool>(
        target: *mut f32,
        mode: Mode,
        xs: &[[f32; I]],
        deltas: &[[f32; O]],
        o0: usize,
        c0: usize,
    ) {
        let mask = tail_mask(I);
        let mut acc = [[_mm512_set1_ps(-0.0); C]; R];
        if let Mode::Update = mode {
            for r in 0..R {
                for k in 0..C {
                    // SAFETY: row `o0 + r` and the chunk lie within `target` (the caller's).
                    acc[r][k] = unsafe { load::<MASKED>(target.add((o0 + r) * I), c0 + k, mask) };
                }
            }
        }
        for (x, d) in xs.iter().zip(deltas) {
            let mut xv = [_mm512_setzero_ps(); C];
            for k in 0..C {
                // SAFETY: the chunk lies within the row (the caller's).
                xv[k] = unsafe { load::<MASKED>(x.as_ptr(), c0 + k, mask) };
            }
            for r in 0..R {
                let d = _mm512_set1_ps(d[o0 + r]);
                for k in 0..C {
                    acc[r][k] = _mm512_fmadd_ps(d, xv[k], acc[r][k]);
                }
            }
        }
        for r in 0..R {
            for k in 0..C {
                // SAFETY: row `o0 + r` and the chunk lie within `target` and `w` (the caller's).
                unsafe {
                    let g = target.add((o0 + r) * I);
                    match mode {
                        Mode::Add => {
                            let sum = _mm512_add_ps(load::<MASKED>(g, c0 + k, mask), acc[r][k]);
                            store::<MASKED>(g, c0 + k, mask, sum);
                        }
                        Mode::Sgd(w, scale, lr) => {
                            let mean = _mm512_mul_ps(acc[r][k], _mm512_set1_ps(scale));
                            store::<MASKED>(g, c0 + k, mask, mean);
                            let w = w.add((o0 + r) * I);
                            let updated =
                                _mm512_fnmadd_ps(_mm512_set1_ps(lr), mean, load::<MASKED>(w, c0 + k, mask));
                            store::<MASKED>(w, c0 + k, mask, updated);
                        }
                        Mode::Update => store::<MASKED>(g, c0 + k, mask, acc[r][k]),
                    }
                }
            }
        }
    }
    let chunks = I / LANES;
    let blocked = chunks - chunks % OUTER_CHUNKS;
    let full_rows = O - O % OUTER_ROWS;
    // Columns outer, rows inner: a block of columns of every sample (32 × 256 bytes) stays in L1
    // while the tiles of `W` and its gradient stream by once.
    // SAFETY: the matrices are `O` rows of `I`, writable (the caller's); the rows below are all
    // `< O`, the chunks within the rows, the partial one masked.
    unsafe {
        for c in (0..blocked).step_by(OUTER_CHUNKS) {
            for o in (0..full_rows).step_by(OUTER_ROWS) {
                tile::<I, O, OUTER_ROWS, OUTER_CHUNKS, false>(target, mode, xs, deltas, o, c);
            }
            for o in full_rows..O {
                tile::<I, O, 1, OUTER_CHUNKS, false>(target, mode, xs, deltas, o, c);
            }
        }
        for c in blocked..chunks {
            for o in (0..full_rows).step_by(OUTER_ROWS) {
                tile::<I, O, OUTER_ROWS, 1, false>(target, mode, xs, deltas, o, c);
            }
            for o in full_rows..O {
                tile::<I, O, 1, 1, false>(target, mode, xs, deltas, o, c);
            }
        }
        if !I.is_multiple_of(LANES) {
            for o in (0..full_rows).step_by(OUTER_ROWS) {
                tile::<I, O, OUTER_ROWS, 1, true>(target, mode, xs, deltas, o, chunks);
            }
            for o in full_rows..O {
                tile::<I, O, 1, 1, true>(target, mode, xs, deltas, o, chunks);
            }
        }
    }
}
