//! The parameter gradients of a convolution over a tile of samples, register-blocked:
//! `dL/dw[f][c][ky][kx] = Σ_{s,y,x} delta_s[f][y][x] · x_s[c][y·S + ky - pt][x·S + kx - pl]` and
//! `dL/db[f] = Σ_{s,y,x} delta_s[f][y][x]`, then written, added, or applied as an SGD step
//! ([`Update`]).
//!
//! # Register tile
//!
//! `FB` filters × the `KW` taps of one kernel row `(c, ky)`: `FB · KW` accumulator vectors whose
//! lanes are output columns. For each sample, output row and vector of [`LANES`] columns, the
//! `FB` vectors of `delta` are loaded once and the `KW` input vectors (one per kernel column)
//! once, for `FB · KW` multiply-adds; the samples are the innermost loop but one, so the tile
//! stays in registers over the whole batch and each gradient is reduced and written once per
//! batch, not once per sample.
//!
//! # Order
//!
//! Lane `l` of a weight's accumulator sums, from `-0.0`, the products of columns `l mod 8` in the
//! order samples, rows, vectors; then the lanes are summed in the fixed order of
//! [`Vector::sum`]. That order depends on the sizes alone, so one sample
//! gives the same bits as a batch of one (and a batch's gradient is the same whichever backend
//! of the exact arithmetic runs it). A tap in the padding is skipped.

use super::direct::Tile;
use super::kernels::Geometry;
use super::lanes::{ALL, LANES, Vector, build, first};
use crate::Scalar;
use crate::kernel::unroll;

/// What becomes of a parameter `p` given its gradient `g`.
#[derive(Clone, Copy)]
pub(super) enum Update<T> {
    /// `p = g`.
    Store,
    /// `p = p + g`.
    Add,
    /// `p += step · g` (the SGD step, `step = -lr`).
    Step(T),
}

impl<T: Scalar> Update<T> {
    #[inline(always)]
    pub(super) fn apply(self, p: &mut T, g: T) {
        match self {
            Self::Store => *p = g,
            Self::Add => *p += g,
            Self::Step(step) => *p += step * g,
        }
    }
}

/// Filters per tile that [`weight_grads`] may use.
const FILTERS: [usize; 5] = [1, 2, 3, 4, 6];

/// The shapes of [`weight_grads`]'s tiles, as [`Tile::pick`] weighs them: `taps` outputs (the
/// accumulators of one delta vector, as many as the taps of a kernel row, up to [`TAPS`]) by `fb`
/// rows (the delta vectors held in registers, one per filter), one input vector at a time.
pub(super) const fn tiles(kw: usize) -> [Tile; FILTERS.len()] {
    let taps = if kw < TAPS { kw } else { TAPS };
    let mut tiles = [Tile { ob: taps, r: 1, q: 1 }; FILTERS.len()];
    let mut k = 0;
    while k < FILTERS.len() {
        tiles[k].r = FILTERS[k];
        k += 1;
    }
    tiles
}

/// `dL/db[f]` of the samples' error signals `ds`, for every `f`, applied to `b` by `update`: lanes
/// over the flattened plane, then [`Vector::sum`].
#[inline(always)]
pub(super) fn bias_grads<T: Scalar, V: Vector<T>, const F: usize, const HO: usize, const WO: usize>(
    ds: &[[[[T; WO]; HO]; F]],
    b: &mut [T; F],
    update: Update<T>,
) {
    let one = V::splat(T::ONE);
    for (bf, f) in b.iter_mut().zip(0..F) {
        let mut acc = V::splat(-T::ZERO);
        for d in ds {
            let plane = d[f].as_flattened();
            let (chunks, rest) = plane.as_chunks::<LANES>();
            for chunk in chunks {
                let x = V::load(chunk, 0, 1).unwrap_or_else(|| V::load_masked(chunk, 0, 1, ALL));
                acc = acc.madd(x, one);
            }
            if !rest.is_empty() {
                let m = first(rest.len());
                acc = acc.madd(V::load_masked(rest, 0, 1, m), one);
            }
        }
        update.apply(bf, acc.sum());
    }
}

/// Kernel columns per tile (a wider kernel row takes several tiles).
const TAPS: usize = 8;

/// `dL/dw` of the samples `xs` with error signals `ds` (pairs beyond the shorter left out), applied
/// to `w` by `update`: `FB` filters × the taps of one kernel row (at most [`TAPS`]) at a time.
#[inline(always)]
pub(super) fn weight_grads<
    T: Scalar,
    V: Vector<T>,
    const C: usize,
    const H: usize,
    const W: usize,
    const F: usize,
    const KH: usize,
    const KW: usize,
    const HO: usize,
    const WO: usize,
    const FB: usize,
>(
    xs: &[[[[T; W]; H]; C]],
    ds: &[[[[T; WO]; HO]; F]],
    g: Geometry,
    w: &mut [[[[T; KW]; KH]; C]; F],
    update: Update<T>,
) {
    let n = xs.len().min(ds.len());
    let (xs, ds) = (xs.get(..n).unwrap_or(&[]), ds.get(..n).unwrap_or(&[]));
    let vectors = WO.div_ceil(LANES);
    for f0 in (0..F).step_by(FB) {
        let fs: [usize; FB] = build(0, |k| f0.wrapping_add(k).min(F.saturating_sub(1)));
        for c in 0..C {
            for ky in 0..KH {
                for kx0 in (0..KW).step_by(TAPS) {
                    let taps = (KW - kx0).min(TAPS);
                    let mut acc = [[V::splat(-T::ZERO); TAPS]; FB];
                    for (x, d) in xs.iter().zip(ds) {
                        let x = &x[c];
                        for y in 0..HO {
                            let iy = y.wrapping_mul(g.s).wrapping_add(ky).wrapping_sub(g.pad_top);
                            let Some(row) = x.get(iy) else { continue };
                            for x0 in (0..vectors).map(|q| q.wrapping_mul(LANES)) {
                                let dm = first(WO.saturating_sub(x0));
                                let dv: [V; FB] = build(V::splat(T::ZERO), |k| match d.get(fs[k]) {
                                    Some(plane) => {
                                        let drow = &plane[y];
                                        V::load(drow, x0, 1)
                                            .unwrap_or_else(|| V::load_masked(drow, x0, 1, dm))
                                    }
                                    None => V::splat(T::ZERO),
                                });
                                let start = x0.wrapping_mul(g.s).wrapping_add(kx0).wrapping_sub(g.pad_left);
                                row_taps::<T, V, W, FB>(&mut acc, &dv, row, start, taps, g.s, dm);
                            }
                        }
                    }
                    for (acc, &f) in acc.iter().zip(&fs).take(F.saturating_sub(f0)) {
                        let Some(wf) = w.get_mut(f) else { continue };
                        for (p, acc) in wf[c][ky].iter_mut().skip(kx0).zip(acc).take(taps) {
                            update.apply(p, acc.sum());
                        }
                    }
                }
            }
        }
    }
}

/// The first `taps` kernel columns of the tile, of one input row for one vector of output
/// columns: `acc[k][t] += dv[k] · row[start + t + l·s]`, over the lanes of `dm` whose input
/// column is inside the row.
#[inline(always)]
fn row_taps<T: Scalar, V: Vector<T>, const W: usize, const FB: usize>(
    acc: &mut [[V; TAPS]; FB],
    dv: &[V; FB],
    row: &[T; W],
    start: usize,
    taps: usize,
    s: usize,
    dm: u8,
) {
    // Every lane of every tap inside the row: no mask.
    let last = start.wrapping_add(taps - 1).wrapping_add((LANES - 1).wrapping_mul(s));
    if dm == ALL && start < W && last < W && last >= start {
        unroll!(t < TAPS, [0 1 2 3 4 5 6 7], {
            if t < taps {
                let off = start.wrapping_add(t);
                let xv = V::load(row, off, s).unwrap_or_else(|| V::load_masked(row, off, s, ALL));
                unroll!(k < FB, [0 1 2 3 4 5 6 7], {
                    acc[k][t] = acc[k][t].madd(dv[k], xv);
                });
            }
        });
        return;
    }
    unroll!(t < TAPS, [0 1 2 3 4 5 6 7], {
        if t < taps {
            let off = start.wrapping_add(t);
            let mut m = 0u8;
            for l in 0..LANES {
                if (dm >> l) & 1 != 0 && off.wrapping_add(l.wrapping_mul(s)) < W {
                    m |= 1 << l;
                }
            }
            if m != 0 {
                let xv = V::load_masked(row, off, s, m);
                unroll!(k < FB, [0 1 2 3 4 5 6 7], {
                    acc[k][t] = acc[k][t].madd(dv[k], xv);
                });
            }
        }
    });
}
