//! The FMA kernels of the backward pass and of the updates: the first layer's row-by-row
//! updates, `Wᵀ delta` with the gradient or the update of each row in the same pass, and the
//! batched outer products (see the module docs of [`fma`](super) for their tiles), written over
//! [`Wide`] as the forward pass is.

use super::{LANES, Micro, Wide, load, store, tail_bits};
use crate::kernel::common::for_rows_to_update;
use crate::kernel::unroll;

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
                Outer::Add(d) => f.fmadd(f.splat(d), x, load::<F, MASKED>(f, g, c, mask)),
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

/// `grad = delta xᵀ`, or `grad += delta xᵀ` (see [`kernel::outer`](crate::kernel::outer)).
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
                acc[k] = f.fmadd(d, wv, acc[k]);
                match rows {
                    Rows::Grad(grad, accumulate) => {
                        let g = grad.add(o * I);
                        let v = if accumulate {
                            f.fmadd(d, xs[k], load::<F, MASKED>(f, g, c0 + k, mask))
                        } else {
                            f.mul(d, xs[k])
                        };
                        store::<F, MASKED>(f, g, c0 + k, mask, v);
                    }
                    Rows::Sgd(step) => {
                        let scaled = f.splat(step * delta[o]);
                        store::<F, MASKED>(f, row, c0 + k, mask, f.fmadd(scaled, xs[k], wv));
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
        unroll!(k < C, [0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15], {
            // SAFETY: the chunk lies within the row (the caller's).
            let wv = unsafe { load::<F, MASKED>(f, w[o].as_ptr(), c0 + k, mask) };
            unroll!(s < S, [0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15], {
                acc[s][k] = f.fmadd(f.splat(deltas[s][o]), wv, acc[s][k]);
            });
        });
    }
    for s in 0..S {
        for k in 0..C {
            // SAFETY: `dxs[s]` is a row of `I`, the chunk within it (the caller's).
            unsafe { store::<F, MASKED>(f, dxs[s], c0 + k, mask, acc[s][k]) };
        }
    }
}

/// The weights' part of [`kernel::gemm_outer`](crate::kernel::gemm_outer) and
/// [`kernel::gemm_outer_sgd`](crate::kernel::gemm_outer_sgd): `grad += Σ_s deltas[s] xs[s]ᵀ`, or
/// with `sgd = Some((w, scale, lr))`, `grad = scale · Σ` and `W = fma(-lr, grad, W)`. The sums run
/// over the samples in order (`fma(d, x, acc)` from `-0.0`); `xs` and `deltas` have the same
/// length.
#[inline(always)]
pub(super) fn gemm_outer<F: Micro, const I: usize, const O: usize>(
    f: F,
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
    unsafe { outer_products::<F, I, O>(f, grad.as_flattened_mut().as_mut_ptr(), mode, xs, deltas) }
}

/// [`kernel::rank_update`](crate::kernel::rank_update): `W = fma(steps[s][o], xs[s][i], W)` for
/// every sample in order, as [`sgd`] once per sample would (`fma(step · delta, x, w)`), with `W`
/// read and written once; `xs` and `steps` have the same length.
#[inline(always)]
pub(super) fn rank_update<F: Micro, const I: usize, const O: usize>(
    f: F,
    w: &mut [[f32; I]; O],
    xs: &[[f32; I]],
    steps: &[[f32; O]],
) {
    // SAFETY: `w` is `O` rows of `I`, writable.
    unsafe { outer_products::<F, I, O>(f, w.as_flattened_mut().as_mut_ptr(), Mode::Update, xs, steps) }
}

/// What [`outer_products`] does with each tile's sums `Σ_s d_s x_sᵀ` and the matrix it is given.
#[derive(Clone, Copy)]
pub(super) enum Mode {
    /// `grad += Σ`.
    Add,
    /// `grad = scale · Σ`, `w = fma(-lr, grad, w)` (`w`, `scale`, `lr`).
    Sgd(*mut f32, f32, f32),
    /// The sums start from the matrix itself, not from `-0.0`: `w = fma(d_s, x_s, w)` sample
    /// after sample.
    Update,
}

/// The batched outer products over `O` rows of `I` at `target`, in tiles of 4 rows × 4 chunks
/// of 16 columns (4 × 1 on AVX2; see [`Mode`]).
///
/// # Safety
///
/// `target` (and the weights of [`Mode::Sgd`]) are `O` rows of `I` `f32`s, writable.
#[inline(always)]
unsafe fn outer_products<F: Micro, const I: usize, const O: usize>(
    f: F,
    target: *mut f32,
    mode: Mode,
    xs: &[[f32; I]],
    deltas: &[[f32; O]],
) {
    // SAFETY: the caller's.
    unsafe {
        if const { F::REGISTERS >= 32 } {
            outer_tiles::<F, I, O, 4, 4>(f, target, mode, xs, deltas)
        } else {
            outer_tiles::<F, I, O, 4, 1>(f, target, mode, xs, deltas)
        }
    }
}

/// Where the columns of an [`outer_tile`] are: its first chunk of sample 0's inputs at `x`, the
/// next sample's `stride` floats further; in the rows, chunk `chunk` counted from `shift` floats
/// before each row's start (the chunks of the rows and of `x` hold the same columns).
#[derive(Clone, Copy)]
pub(super) struct Cols<M> {
    x: *const f32,
    stride: usize,
    chunk: usize,
    shift: usize,
    /// The lanes of a masked tile's one chunk that are columns of the rows.
    mask: M,
}

/// The samples whose columns [`outer_tiles`] copies to an aligned buffer: a batch tile.
const OUTER_PACK: usize = crate::kernel::BATCH_TILE;

/// `C` chunks of one sample's inputs, starting on a 64-byte boundary.
#[repr(C, align(64))]
struct Block<const C: usize>([[f32; LANES]; C]);

/// [`outer_products`] in tiles of `R` rows × `C` chunks, a block of columns of every sample
/// outer and the rows inner: the block (32 × 256 bytes) stays in L1 while the tiles of `W` and
/// its gradient stream by once.
///
/// Aligned loads and stores, as [`dot_tile`](super::dot_tile)'s: when every row starts `m` floats
/// past a 64-byte boundary (`I` a multiple of 16) and the samples fit [`OUTER_PACK`], the chunks
/// are counted from `m` floats before each row, so that every chunk of the matrix the tile reads
/// and writes (`W` in [`Mode::Sgd`], else `target`) is one cache line, not two; the first and last
/// chunks are masked. Each block of full chunks of the samples is first copied to a buffer at the
/// same offset. A column's sum is its own lane's, over the samples in order, whichever lane holds
/// it: the same bits as unaligned chunks, wherever the data lies.
///
/// # Safety
///
/// As [`outer_products`].
#[inline(always)]
unsafe fn outer_tiles<F: Micro, const I: usize, const O: usize, const R: usize, const C: usize>(
    f: F,
    target: *mut f32,
    mode: Mode,
    xs: &[[f32; I]],
    deltas: &[[f32; O]],
) {
    let n = xs.len();
    let aligned_to = match mode {
        Mode::Sgd(w, ..) => w.cast_const(),
        Mode::Add | Mode::Update => target.cast_const(),
    };
    let packed = I.is_multiple_of(LANES) && n <= OUTER_PACK;
    let m = if packed { aligned_to as usize / size_of::<f32>() % LANES } else { 0 };
    // The chunks that lie within the rows: `full`; the partial ones at either end, masked.
    let first = usize::from(m != 0);
    let full = first..(I + m) / LANES;
    let blocked = full.start..full.end - full.len() % C;
    let x0 = xs.as_ptr().cast::<f32>().wrapping_sub(m);
    let unpacked = |chunk: usize, mask: u32| Cols {
        x: x0.wrapping_add(chunk * LANES),
        stride: I,
        chunk,
        shift: m,
        mask: f.mask(mask),
    };
    let mut buffer = [const { core::mem::MaybeUninit::<Block<C>>::uninit() }; OUTER_PACK];
    // SAFETY: the matrices are `O` rows of `I`, writable (the caller's); the rows below are all
    // `< O`, the chunks within the rows or masked to their columns; the buffer's blocks are
    // written before they are read.
    unsafe {
        for c in blocked.clone().step_by(C) {
            let cols = if packed {
                for (x, block) in xs.iter().zip(&mut buffer) {
                    let from = x.as_ptr().add(c * LANES - m);
                    core::ptr::copy_nonoverlapping(from, block.as_mut_ptr().cast::<f32>(), C * LANES);
                }
                Cols { x: buffer.as_ptr().cast::<f32>(), stride: C * LANES, ..unpacked(c, 0) }
            } else {
                unpacked(c, 0)
            };
            for o in (0..O - O % R).step_by(R) {
                f.outer_tile::<I, O, R, C, false>(target, mode, cols, deltas, o);
            }
            for o in O - O % R..O {
                f.outer_tile::<I, O, 1, C, false>(target, mode, cols, deltas, o);
            }
        }
        for c in blocked.end..full.end {
            outer_column::<F, I, O, R, false>(f, target, mode, unpacked(c, 0), deltas);
        }
        if m != 0 {
            outer_column::<F, I, O, R, true>(f, target, mode, unpacked(0, 0xffff << m), deltas);
        }
        if !(I + m).is_multiple_of(LANES) {
            let tail = unpacked(full.end, tail_bits(I + m));
            outer_column::<F, I, O, R, true>(f, target, mode, tail, deltas);
        }
    }
}

/// The tiles of one chunk of columns, every row.
///
/// # Safety
///
/// As [`outer_tile`], for every row.
#[inline(always)]
unsafe fn outer_column<F: Micro, const I: usize, const O: usize, const R: usize, const MASKED: bool>(
    f: F,
    target: *mut f32,
    mode: Mode,
    cols: Cols<F::M>,
    deltas: &[[f32; O]],
) {
    // SAFETY: the caller's.
    unsafe {
        for o in (0..O - O % R).step_by(R) {
            f.outer_tile::<I, O, R, 1, MASKED>(target, mode, cols, deltas, o);
        }
        for o in O - O % R..O {
            f.outer_tile::<I, O, 1, 1, MASKED>(target, mode, cols, deltas, o);
        }
    }
}

/// Rows `o0 .. o0 + R`, the `C` chunks of `cols` of [`outer_products`] (its micro-kernel).
///
/// # Safety
///
/// As [`outer_products`]; the rows lie within the matrices, `cols` holds `deltas.len()` samples'
/// chunks, readable, and its chunks of the rows lie within them (with `MASKED`, `C = 1` and the
/// lanes of `cols.mask` do).
#[inline(always)]
pub(super) unsafe fn outer_tile<
    F: Wide,
    const I: usize,
    const O: usize,
    const R: usize,
    const C: usize,
    const MASKED: bool,
>(
    f: F,
    target: *mut f32,
    mode: Mode,
    cols: Cols<F::M>,
    deltas: &[[f32; O]],
    o0: usize,
) {
    let Cols { x, stride, chunk, shift, mask } = cols;
    let row = |p: *mut f32, r: usize| p.wrapping_add((o0 + r) * I).wrapping_sub(shift);
    let mut acc = [[f.splat(-0.0); C]; R];
    if let Mode::Update = mode {
        for r in 0..R {
            for k in 0..C {
                // SAFETY: row `o0 + r` and the chunk lie within `target` (the caller's).
                acc[r][k] = unsafe { load::<F, MASKED>(f, row(target, r), chunk + k, mask) };
            }
        }
    }
    let mut x = x;
    for d in deltas {
        // Unrolled: the tile stays in registers at every opt-level (see `unroll!`).
        let mut xv = [f.zero(); C];
        unroll!(k < C, [0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15], {
            // SAFETY: the sample's chunks are readable (the caller's).
            xv[k] = unsafe { load::<F, MASKED>(f, x, k, mask) };
        });
        unroll!(r < R, [0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15], {
            let d = f.splat(d[o0 + r]);
            unroll!(k < C, [0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15], {
                acc[r][k] = f.fmadd(d, xv[k], acc[r][k]);
            });
        });
        x = x.wrapping_add(stride);
    }
    for r in 0..R {
        for k in 0..C {
            // SAFETY: row `o0 + r` and the chunk lie within `target` and `w` (the caller's).
            unsafe {
                let g = row(target, r);
                match mode {
                    Mode::Add => {
                        let sum = f.add(load::<F, MASKED>(f, g, chunk + k, mask), acc[r][k]);
                        store::<F, MASKED>(f, g, chunk + k, mask, sum);
                    }
                    Mode::Sgd(w, scale, lr) => {
                        let mean = f.mul(acc[r][k], f.splat(scale));
                        store::<F, MASKED>(f, g, chunk + k, mask, mean);
                        let w = row(w, r);
                        let updated = f.fnmadd(f.splat(lr), mean, load::<F, MASKED>(f, w, chunk + k, mask));
                        store::<F, MASKED>(f, w, chunk + k, mask, updated);
                    }
                    Mode::Update => store::<F, MASKED>(f, g, chunk + k, mask, acc[r][k]),
                }
            }
        }
    }
}
