//! The exact kernels of a tile of samples: matrix-matrix products. Samples are slices (at most
//! `BATCH_TILE` of them, the same number in each; see the entry points in [`kernel`](crate::kernel)),
//! the layer's sizes are const generics. As in [`portable`](super), each entry runs its lanes'
//! version (`*_on`).

use super::{COLS, Scalar, dot_tile, gemv_on, halves, on_lanes, store_halves, view};
use crate::kernel::LANES;
use crate::kernel::common::{Sgd, outer_bias, outer_operands};
use crate::kernel::lanes::{Array, Isa, Lanes};

/// Samples × neurons of the batched forward tile: each weight loaded serves 2 samples and each
/// input chunk 4 neurons.
const TILE_SAMPLES: usize = 2;
const TILE_ROWS: usize = 4;
/// Rows (samples for `Wᵀ delta`, neurons for `delta xᵀ`) of the batched outer-product tile.
const OUTER_ROWS: usize = 6;

/// `zs[s] = W xs[s] + b` (see [`gemm`](crate::kernel::gemm)), tiles of 2 samples × 4 neurons.
#[inline(always)]
pub(in crate::kernel) fn gemm<T: Scalar, Y: Isa, const I: usize, const O: usize>(
    isa: Y,
    w: &[[T; I]; O],
    b: &[T; O],
    xs: &[[T; I]],
    zs: &mut [[T; O]],
) {
    on_lanes!(isa, T, gemm_on::<I, O>(w => of, b => of, xs => rows, zs => rows_mut))
}

#[inline(always)]
fn gemm_on<T: Scalar, L: Lanes<T = T>, const I: usize, const O: usize>(
    l: L,
    w: &[[T; I]; O],
    b: &[T; O],
    xs: &[[T; I]],
    zs: &mut [[T; O]],
) {
    let (x_tiles, x_rest) = xs.as_chunks::<TILE_SAMPLES>();
    let (z_tiles, z_rest) = zs.as_chunks_mut::<TILE_SAMPLES>();
    for (x, z) in x_tiles.iter().zip(z_tiles.iter_mut()) {
        for j in 0..O / TILE_ROWS {
            let w = &w.as_chunks::<TILE_ROWS>().0[j];
            let b = &b.as_chunks::<TILE_ROWS>().0[j];
            let d = dot_tile::<T, L, I, TILE_SAMPLES, TILE_ROWS>(l, x, w, b);
            for (z, d) in z.iter_mut().zip(d) {
                z.as_chunks_mut::<TILE_ROWS>().0[j] = d;
            }
        }
        for r in 0..O % TILE_ROWS {
            let w = core::array::from_ref(&w.as_chunks::<TILE_ROWS>().1[r]);
            let b = core::array::from_ref(&b.as_chunks::<TILE_ROWS>().1[r]);
            let d = dot_tile::<T, L, I, TILE_SAMPLES, 1>(l, x, w, b);
            for (z, [d]) in z.iter_mut().zip(d) {
                z.as_chunks_mut::<TILE_ROWS>().1[r] = d;
            }
        }
    }
    for (x, z) in x_rest.iter().zip(z_rest) {
        gemv_on(l, w, b, x, z);
    }
}

/// `dxs[s] = Wᵀ deltas[s]` (see [`gemm_t`](crate::kernel::gemm_t)), tiles of 6 samples × 16
/// columns.
#[inline(always)]
pub(in crate::kernel) fn gemm_t<T: Scalar, Y: Isa, const I: usize, const O: usize>(
    isa: Y,
    w: &[[T; I]; O],
    deltas: &[[T; O]],
    dxs: &mut [[T; I]],
) {
    on_lanes!(isa, T, gemm_t_on::<I, O>(w => of, deltas => rows, dxs => rows_mut))
}

#[inline(always)]
fn gemm_t_on<T: Scalar, L: Lanes<T = T>, const I: usize, const O: usize>(
    l: L,
    w: &[[T; I]; O],
    deltas: &[[T; O]],
    dxs: &mut [[T; I]],
) {
    let (d_tiles, d_rest) = deltas.as_chunks::<OUTER_ROWS>();
    let (dx_tiles, dx_rest) = dxs.as_chunks_mut::<OUTER_ROWS>();
    for (d, dx) in d_tiles.iter().zip(dx_tiles.iter_mut()) {
        gemm_t_tile::<T, L, I, O, OUTER_ROWS>(l, w, d, dx);
    }
    for (d, dx) in d_rest.iter().zip(dx_rest) {
        gemm_t_tile::<T, L, I, O, 1>(l, w, core::array::from_ref(d), core::array::from_mut(dx));
    }
}

#[inline(always)]
fn gemm_t_tile<T: Scalar, L: Lanes<T = T>, const I: usize, const O: usize, const S: usize>(
    l: L,
    w: &[[T; I]; O],
    deltas: &[[T; O]; S],
    dxs: &mut [[T; I]; S],
) {
    for c in 0..I / COLS {
        let mut acc = [[l.splat(-T::ZERO); 2]; S];
        for o in 0..O {
            let w = halves(l, &w[o].as_chunks::<COLS>().0[c]);
            unroll!(s < S, [0 1 2 3 4 5], {
                let d = l.splat(deltas[s][o]);
                acc[s] = [l.mul_add(acc[s][0], d, w[0]), l.mul_add(acc[s][1], d, w[1])];
            });
        }
        for (dx, acc) in dxs.iter_mut().zip(acc) {
            store_halves(l, acc, &mut dx.as_chunks_mut::<COLS>().0[c]);
        }
    }
    if !I.is_multiple_of(COLS) {
        // The columns past the last full chunk, all at once, rows outer (see `portable::backward_sgd`).
        let mut acc = [[-T::ZERO; COLS]; S];
        for o in 0..O {
            let w = w[o].as_chunks::<COLS>().1;
            unroll!(s < S, [0 1 2 3 4 5], {
                let d = deltas[s][o];
                for k in 0..I % COLS {
                    acc[s][k] += d * w[k];
                }
            });
        }
        for (dx, acc) in dxs.iter_mut().zip(acc) {
            for (dx, acc) in dx.as_chunks_mut::<COLS>().1.iter_mut().zip(acc) {
                *dx = acc;
            }
        }
    }
}

/// The batched outer products, with or without the SGD step (see
/// [`gemm_outer`](crate::kernel::gemm_outer)), tiles of 6 neurons × 16 columns.
#[inline(always)]
pub(in crate::kernel) fn gemm_outer<T: Scalar, Y: Isa, const I: usize, const O: usize>(
    isa: Y,
    grad: &mut [[T; I]; O],
    grad_b: &mut [T; O],
    xs: &[[T; I]],
    deltas: &[[T; O]],
    sgd: Option<Sgd<'_, T, I, O>>,
) {
    let (xs, deltas, weights, biases) = outer_operands(xs, deltas, sgd);
    on_lanes!(isa, T, gemm_outer_weights::<I, O>(grad => of_mut, weights => value, xs => rows, deltas => rows));
    outer_bias(grad_b, deltas, biases);
}

/// The weights' part of [`gemm_outer`]: `grad += Σ`, or with `sgd = (w, scale, lr)`,
/// `grad = scale · Σ` and `w -= lr · grad`.
#[inline(always)]
fn gemm_outer_weights<T: Scalar, L: Lanes<T = T>, const I: usize, const O: usize>(
    l: L,
    grad: &mut [[T; I]; O],
    sgd: Option<(&mut [[T; I]; O], T, T)>,
    xs: &[[T; I]],
    deltas: &[[T; O]],
) {
    // A tile's error signals are picked from each sample's `delta` by a constant index: the
    // `j`-th chunk of 6 neurons, or the `r`-th neuron past the last whole chunk.
    match sgd {
        None => {
            for j in 0..O / OUTER_ROWS {
                let g = &mut grad.as_chunks_mut::<OUTER_ROWS>().0[j];
                outer_tile(l, g, None, xs, deltas, |d: &[T; O]| d.as_chunks::<OUTER_ROWS>().0[j]);
            }
            for r in 0..O % OUTER_ROWS {
                let g = core::array::from_mut(&mut grad.as_chunks_mut::<OUTER_ROWS>().1[r]);
                outer_tile(l, g, None, xs, deltas, |d: &[T; O]| [d.as_chunks::<OUTER_ROWS>().1[r]]);
            }
        }
        Some((w, scale, lr)) => {
            for j in 0..O / OUTER_ROWS {
                let g = &mut grad.as_chunks_mut::<OUTER_ROWS>().0[j];
                let w = &mut w.as_chunks_mut::<OUTER_ROWS>().0[j];
                outer_tile(l, g, Some((w, scale, lr)), xs, deltas, |d: &[T; O]| {
                    d.as_chunks::<OUTER_ROWS>().0[j]
                });
            }
            for r in 0..O % OUTER_ROWS {
                let g = core::array::from_mut(&mut grad.as_chunks_mut::<OUTER_ROWS>().1[r]);
                let w = core::array::from_mut(&mut w.as_chunks_mut::<OUTER_ROWS>().1[r]);
                outer_tile(l, g, Some((w, scale, lr)), xs, deltas, |d: &[T; O]| {
                    [d.as_chunks::<OUTER_ROWS>().1[r]]
                });
            }
        }
    }
}

/// `R` rows of the outer products, whose error signals `column` picks from each sample's
/// `delta`: `grad += Σ`, or with `sgd = (w, scale, lr)`, `grad = scale · Σ` and `w -= lr · grad`.
#[inline(always)]
fn outer_tile<T: Scalar, L: Lanes<T = T>, const I: usize, const O: usize, const R: usize>(
    l: L,
    grad: &mut [[T; I]; R],
    mut sgd: Option<(&mut [[T; I]; R], T, T)>,
    xs: &[[T; I]],
    deltas: &[[T; O]],
    column: impl Fn(&[T; O]) -> [T; R],
) {
    let (scale, lr) = sgd.as_ref().map_or((T::ONE, T::ZERO), |s| (s.1, s.2));
    for c in 0..I / COLS {
        let mut acc = [[l.splat(-T::ZERO); 2]; R];
        for (x, d) in xs.iter().zip(deltas) {
            let x = halves(l, &x.as_chunks::<COLS>().0[c]);
            let d = column(d);
            unroll!(r < R, [0 1 2 3 4 5], {
                let d = l.splat(d[r]);
                acc[r] = [l.mul_add(acc[r][0], d, x[0]), l.mul_add(acc[r][1], d, x[1])];
            });
        }
        for r in 0..R {
            let g = &mut grad[r].as_chunks_mut::<COLS>().0[c];
            let sum = acc[r];
            match &mut sgd {
                None => {
                    let old = halves(l, g);
                    store_halves(l, [l.add(old[0], sum[0]), l.add(old[1], sum[1])], g);
                }
                Some((w, _, _)) => {
                    let (scale, lr) = (l.splat(scale), l.splat(lr));
                    let mean = [l.mul(sum[0], scale), l.mul(sum[1], scale)];
                    store_halves(l, mean, g);
                    let w = &mut w[r].as_chunks_mut::<COLS>().0[c];
                    let old = halves(l, w);
                    let new = [l.sub(old[0], l.mul(lr, mean[0])), l.sub(old[1], l.mul(lr, mean[1]))];
                    store_halves(l, new, w);
                }
            }
        }
    }
    if I % COLS >= LANES {
        // The columns past the last full chunk, all at once, samples outer (see
        // `portable::backward_sgd`). Not for fewer than 8 of them: LLVM then vectorises across the
        // rows and unpacks its accumulators on every sample, so those take a pass over the samples
        // each (below).
        let mut acc = [[-T::ZERO; COLS]; R];
        for (x, d) in xs.iter().zip(deltas) {
            let x = x.as_chunks::<COLS>().1;
            let d = column(d);
            unroll!(r < R, [0 1 2 3 4 5], {
                for k in 0..I % COLS {
                    acc[r][k] += d[r] * x[k];
                }
            });
        }
        for r in 0..R {
            let g = grad[r].as_chunks_mut::<COLS>().1;
            match &mut sgd {
                None => {
                    for k in 0..I % COLS {
                        g[k] += acc[r][k];
                    }
                }
                Some((w, _, _)) => {
                    let w = w[r].as_chunks_mut::<COLS>().1;
                    for k in 0..I % COLS {
                        g[k] = acc[r][k] * scale;
                        w[k] -= lr * g[k];
                    }
                }
            }
        }
    } else {
        for k in 0..I % COLS {
            let mut acc = [-T::ZERO; R];
            for (x, d) in xs.iter().zip(deltas) {
                let x = x.as_chunks::<COLS>().1[k];
                let d = column(d);
                unroll!(r < R, [0 1 2 3 4 5], {
                    acc[r] += d[r] * x;
                });
            }
            for r in 0..R {
                let g = &mut grad[r].as_chunks_mut::<COLS>().1[k];
                match &mut sgd {
                    None => *g += acc[r],
                    Some((w, _, _)) => {
                        *g = acc[r] * scale;
                        w[r].as_chunks_mut::<COLS>().1[k] -= lr * *g;
                    }
                }
            }
        }
    }
}

/// `W += Σ_s steps[s] xs[s]ᵀ` (see [`rank_update`](crate::kernel::rank_update)), tiles of 6 rows
/// × 16 columns.
#[inline(always)]
pub(in crate::kernel) fn rank_update<T: Scalar, Y: Isa, const I: usize, const O: usize>(
    isa: Y,
    w: &mut [[T; I]; O],
    xs: &[[T; I]],
    steps: &[[T; O]],
) {
    on_lanes!(isa, T, rank_update_on::<I, O>(w => of_mut, xs => rows, steps => rows))
}

#[inline(always)]
fn rank_update_on<T: Scalar, L: Lanes<T = T>, const I: usize, const O: usize>(
    l: L,
    w: &mut [[T; I]; O],
    xs: &[[T; I]],
    steps: &[[T; O]],
) {
    for j in 0..O / OUTER_ROWS {
        let w = &mut w.as_chunks_mut::<OUTER_ROWS>().0[j];
        update_tile(l, w, xs, steps, |d: &[T; O]| d.as_chunks::<OUTER_ROWS>().0[j]);
    }
    for r in 0..O % OUTER_ROWS {
        let w = core::array::from_mut(&mut w.as_chunks_mut::<OUTER_ROWS>().1[r]);
        update_tile(l, w, xs, steps, |d: &[T; O]| [d.as_chunks::<OUTER_ROWS>().1[r]]);
    }
}

/// `R` rows of [`rank_update`], whose steps `column` picks from each sample's: the tile of
/// weights is loaded, gets one product per sample added, and is stored.
#[inline(always)]
fn update_tile<T: Scalar, L: Lanes<T = T>, const I: usize, const O: usize, const R: usize>(
    l: L,
    w: &mut [[T; I]; R],
    xs: &[[T; I]],
    steps: &[[T; O]],
    column: impl Fn(&[T; O]) -> [T; R],
) {
    for c in 0..I / COLS {
        let mut acc: [[L::V; 2]; R] = core::array::from_fn(|r| halves(l, &w[r].as_chunks::<COLS>().0[c]));
        for (x, d) in xs.iter().zip(steps) {
            let x = halves(l, &x.as_chunks::<COLS>().0[c]);
            let d = column(d);
            unroll!(r < R, [0 1 2 3 4 5], {
                let d = l.splat(d[r]);
                acc[r] = [l.mul_add(acc[r][0], d, x[0]), l.mul_add(acc[r][1], d, x[1])];
            });
        }
        for r in 0..R {
            store_halves(l, acc[r], &mut w[r].as_chunks_mut::<COLS>().0[c]);
        }
    }
    // The columns past the last full chunk: the same, in a tile as wide as they are.
    let mut acc = [[T::ZERO; COLS]; R];
    for r in 0..R {
        for (a, &w) in acc[r].iter_mut().zip(w[r].as_chunks::<COLS>().1) {
            *a = w;
        }
    }
    for (x, d) in xs.iter().zip(steps) {
        let x = x.as_chunks::<COLS>().1;
        let d = column(d);
        unroll!(r < R, [0 1 2 3 4 5], {
            for k in 0..I % COLS {
                acc[r][k] += d[r] * x[k];
            }
        });
    }
    for r in 0..R {
        for (w, &a) in w[r].as_chunks_mut::<COLS>().1.iter_mut().zip(&acc[r]) {
            *w = a;
        }
    }
}
