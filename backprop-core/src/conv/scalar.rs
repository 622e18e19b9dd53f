//! The kernels of cores without vector units (a Cortex-M4F's scalar FPU, say), chosen at compile
//! time ([`SCALAR`]): plain scalar register tiles that compute the same sums, in the same order,
//! as the vector kernels of [`direct`](super::direct) and [`grads`](super::grads) on [`Exact`]
//! lanes, so the same bits, without the lanes a row shorter than [`LANES`] leaves empty.
//!
//! - The correlation (the forward pass, and the input gradient of a stride-1 convolution whose
//!   rows are too long for the column sums): tiles of `OB` output channels × `Q` columns of one
//!   output row ([`TILES`]). Each output is `init`, then its taps in order (input channel, kernel
//!   row, kernel column); a kernel row outside the input is left out and a column outside it adds
//!   `0 · w`: what the vector kernels' tiles of one row do.
//! - The stride-1 input gradient by column sums ([`input_grad_by_columns`]): each element summed
//!   directly in the order of the vector kernels' column sums, without their buffer.
//! - The weight and bias gradients: the vector kernels' lane `l` (columns `l mod 8`, in the order
//!   samples, rows, vectors) for one lane at a time, the lanes then summed in the tree of
//!   [`Vector::sum`]. The vector kernels' masked multiply-adds also add
//!   `0 · 0 = +0` to the lanes of the last vector past the end of the row, which turns a sum of
//!   `-0` into `+0` and changes nothing else: such a lane gets one `+0` at the end instead.
//!
//! The vector kernels' tiles of several rows add `0 · w` for a kernel row that one of their rows
//! reaches and another does not; the tiles here, as the vector tile of one row, leave it out. The
//! two differ only in the sign of an output whose sum is zero, or where a weight is infinite.
//!
//! [`Exact`]: super::lanes::Exact

use super::direct::{Plan, Taps, Tile};
use super::grads::Update;
use super::kernels::{Geometric, Geometry};
use super::lanes::{Exact, LANES, Vector};
use crate::Scalar;
use crate::kernel::unroll;

/// Whether the build runs these kernels: a target without vector instructions that LLVM would
/// fill with the eight lanes of [`Exact`].
pub(super) const SCALAR: bool = !cfg!(any(
    target_arch = "x86",
    target_arch = "x86_64",
    target_arch = "aarch64",
    target_arch = "arm64ec",
    target_feature = "neon",
    target_feature = "simd128",
));

/// Scalar registers a tile may take (of a Cortex-M4F's 32 single-precision registers).
pub(super) const BUDGET: usize = 24;

/// The correlation's tile shapes: `ob` output channels × `q` columns (`r` is always 1), as
/// [`Tile::pick`] weighs them with vectors of one register; [`correlate!`] matches the index.
pub(super) const TILES: [Tile; 8] = [
    Tile { ob: 1, r: 1, q: 1 },
    Tile { ob: 2, r: 1, q: 2 },
    Tile { ob: 2, r: 1, q: 4 },
    Tile { ob: 4, r: 1, q: 2 },
    Tile { ob: 4, r: 1, q: 3 },
    Tile { ob: 4, r: 1, q: 4 },
    Tile { ob: 6, r: 1, q: 3 },
    Tile { ob: 8, r: 1, q: 2 },
];

/// `correlate!(pick, T, KH, KW; k, init, input, out, plan)`: [`direct::correlate!`] with the
/// scalar tile `TILES[pick]` (give `pick` as a `const` block, for the same reason).
///
/// [`direct::correlate!`]: super::direct::correlate
macro_rules! correlate {
    ($pick:expr, $t:ty, $kh:expr, $kw:expr; $($arg:expr),+ $(,)?) => {{
        use super::scalar::tiles;
        match $pick {
            0 => tiles::<$t, _, $kh, $kw, 1, 1>($($arg),+),
            1 => tiles::<$t, _, $kh, $kw, 2, 2>($($arg),+),
            2 => tiles::<$t, _, $kh, $kw, 2, 4>($($arg),+),
            3 => tiles::<$t, _, $kh, $kw, 4, 2>($($arg),+),
            4 => tiles::<$t, _, $kh, $kw, 4, 3>($($arg),+),
            5 => tiles::<$t, _, $kh, $kw, 4, 4>($($arg),+),
            6 => tiles::<$t, _, $kh, $kw, 6, 3>($($arg),+),
            7 => tiles::<$t, _, $kh, $kw, 8, 2>($($arg),+),
            _ => {}
        }
    }};
}
pub(super) use correlate;

/// Every tile of the output, `OB` channels × `Q` columns of a row at a time (through
/// [`correlate!`]). A row's last tile starts `Q` columns before its end (recomputing and storing
/// again some outputs of the one before, the same bits), so a tile's columns are consecutive.
#[inline(always)]
pub(super) fn tiles<
    T: Scalar,
    K: Taps<T, KH, KW>,
    const KH: usize,
    const KW: usize,
    const OB: usize,
    const Q: usize,
>(
    k: &K,
    init: Option<&[T]>,
    input: &[T],
    out: &mut [T],
    p: Plan,
) {
    let plane = p.ho.wrapping_mul(p.wo);
    let last = K::OUTPUTS.saturating_sub(1);
    for o0 in (0..K::OUTPUTS).step_by(OB) {
        let (mut os, mut start) = ([0; OB], [T::ZERO; OB]);
        unroll!(k < OB, [0 1 2 3 4 5 6 7], {
            os[k] = o0.wrapping_add(k).min(last);
            start[k] = init.and_then(|init| init.get(os[k])).copied().unwrap_or(T::ZERO);
        });
        for y in 0..p.ho {
            for x0 in (0..p.wo).step_by(Q) {
                let x0 = x0.min(p.wo.saturating_sub(Q));
                let mut xs = [0; Q];
                unroll!(q < Q, [0 1 2 3 4 5 6 7], {
                    xs[q] = x0.wrapping_add(q).min(p.wo.saturating_sub(1));
                });
                let acc = tile::<T, K, KH, KW, OB, Q>(k, &start, input, o0, y.wrapping_add(p.row0), &xs, p);
                for (acc, &o) in acc.iter().zip(&os) {
                    let row = o.wrapping_mul(plane).wrapping_add(y.wrapping_mul(p.wo));
                    let chunk = out.get_mut(row.wrapping_add(x0)..).and_then(|d| d.first_chunk_mut::<Q>());
                    match chunk.filter(|_| p.wo >= Q) {
                        Some(dst) => *dst = *acc,
                        None => {
                            for (&v, &x) in acc.iter().zip(&xs) {
                                if let Some(dst) = out.get_mut(row.wrapping_add(x)) {
                                    *dst = v;
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// One tile: the sums of outputs `o0 ..` at row `row` of the whole output, columns `xs`.
#[inline(always)]
#[allow(clippy::too_many_arguments)] // a kernel's operands
fn tile<T: Scalar, K: Taps<T, KH, KW>, const KH: usize, const KW: usize, const OB: usize, const Q: usize>(
    k: &K,
    start: &[T; OB],
    input: &[T],
    o0: usize,
    row: usize,
    xs: &[usize; Q],
    p: Plan,
) -> [[T; Q]; OB] {
    let mut acc = [[T::ZERO; Q]; OB];
    unroll!(k < OB, [0 1 2 3 4 5 6 7], {
        acc[k] = [start[k]; Q];
    });
    // Input row and columns of tap (0, 0).
    let top = row.wrapping_mul(p.s).wrapping_sub(p.pt);
    let mut left = [0; Q];
    unroll!(q < Q, [0 1 2 3 4 5 6 7], {
        left[q] = xs[q].wrapping_mul(p.s).wrapping_sub(p.pl);
    });
    // Every tap inside the input, the columns consecutive: no check but the window's.
    let inside = row.wrapping_mul(p.s) >= p.pt
        && top.wrapping_add(KH).wrapping_sub(1) < p.hi
        && xs[0].wrapping_mul(p.s) >= p.pl
        && left[Q - 1].wrapping_add(KW).wrapping_sub(1) < p.wi
        && p.wo >= Q;
    let span = (Q - 1).wrapping_mul(p.s).wrapping_add(KW);
    let channel = p.hi.wrapping_mul(p.wi);
    for i in 0..K::INPUTS {
        let kernels = k.block::<OB>(o0, i);
        for ky in 0..KH {
            let iy = top.wrapping_add(ky);
            if iy >= p.hi {
                continue;
            }
            let at = i.wrapping_mul(channel).wrapping_add(iy.wrapping_mul(p.wi));
            let taps = |kx: usize| if K::TURNED { (KH - 1 - ky, KW - 1 - kx) } else { (ky, kx) };
            if inside {
                let Some(window) = input.get(at.wrapping_add(left[0])..).and_then(|w| w.get(..span)) else {
                    continue;
                };
                for kx in 0..KW {
                    let mut x = [T::ZERO; Q];
                    unroll!(q < Q, [0 1 2 3 4 5 6 7], {
                        x[q] = window.get(q.wrapping_mul(p.s).wrapping_add(kx)).copied().unwrap_or(T::ZERO);
                    });
                    madds::<T, K, KH, KW, OB, Q>(&mut acc, &kernels, &x, taps(kx));
                }
            } else {
                for kx in 0..KW {
                    let mut x = [T::ZERO; Q];
                    unroll!(q < Q, [0 1 2 3 4 5 6 7], {
                        let ix = left[q].wrapping_add(kx);
                        if ix < p.wi {
                            x[q] = input.get(at.wrapping_add(ix)).copied().unwrap_or(T::ZERO);
                        }
                    });
                    madds::<T, K, KH, KW, OB, Q>(&mut acc, &kernels, &x, taps(kx));
                }
            }
        }
    }
    acc
}

/// Columns of `dx` per step of [`input_grad_by_columns`].
const COLUMNS: usize = 4;

/// `dx = wᵀ ⋆ delta` for stride 1 in the order of the vector kernels' column sums
/// ([`kernels`](super::kernels)' `input_grad_by_columns`), without their buffer: from `+0`, for
/// each kernel column `kx` in order whose column `x + pl - kx` of `delta` exists, the column sum
/// `Σ_{f, ky} delta[f][y + ky - pt][x + pl - kx] · w[f][c][KH-1-ky][kx]` (from `+0`, rows outside
/// `delta` left out). `pt` is `KH - 1 - pad_top`.
#[inline(always)]
pub(super) fn input_grad_by_columns<
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
    pt: usize,
    pl: usize,
) {
    for (dxc, c) in dx.iter_mut().zip(0..C) {
        for (dxrow, y) in dxc.iter_mut().zip(0..H) {
            for x0 in (0..W).step_by(COLUMNS) {
                // The last step starts `COLUMNS` before the end (the same bits again).
                let x0 = x0.min(W.saturating_sub(COLUMNS));
                let mut xs = [0; COLUMNS];
                unroll!(q < COLUMNS, [0 1 2 3], {
                    xs[q] = x0.wrapping_add(q).min(W.saturating_sub(1));
                });
                let mut acc = [T::ZERO; COLUMNS];
                for kx in 0..KW {
                    let mut cols = [0; COLUMNS];
                    unroll!(q < COLUMNS, [0 1 2 3], {
                        cols[q] = xs[q].wrapping_add(pl).wrapping_sub(kx);
                    });
                    let mut a = [T::ZERO; COLUMNS];
                    for (df, wf) in delta.iter().zip(w) {
                        let Some(wc) = wf.get(c) else { continue };
                        for (wrow, ky) in wc.iter().rev().zip(0..KH) {
                            let Some(drow) = df.get(y.wrapping_add(ky).wrapping_sub(pt)) else { continue };
                            let wv = wrow.get(kx).copied().unwrap_or(T::ZERO);
                            unroll!(q < COLUMNS, [0 1 2 3], {
                                a[q] += drow.get(cols[q]).copied().unwrap_or(T::ZERO) * wv;
                            });
                        }
                    }
                    unroll!(q < COLUMNS, [0 1 2 3], {
                        if cols[q] < WO {
                            acc[q] += a[q];
                        }
                    });
                }
                for (&x, &v) in xs.iter().zip(&acc) {
                    if let Some(dst) = dxrow.get_mut(x) {
                        *dst = v;
                    }
                }
            }
        }
    }
}

/// `acc[k][q] += x[q] · w`, `w` the weight at tap `(ty, tx)` of kernel `k`.
#[inline(always)]
fn madds<T: Scalar, K: Taps<T, KH, KW>, const KH: usize, const KW: usize, const OB: usize, const Q: usize>(
    acc: &mut [[T; Q]; OB],
    kernels: &[K::Kernel; OB],
    x: &[T; Q],
    (ty, tx): (usize, usize),
) {
    let mut w = T::ZERO;
    unroll!((k, q) < (OB, Q), [0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23], {
        if q == 0 {
            w = K::at(kernels[k], ty, tx);
        }
        acc[k][q] += x[q] * w;
    });
}

/// `body` for each `$t` of `0..$n`: unrolled (`$t` a constant) for the first eight, then a loop.
macro_rules! each_tap {
    ($t:ident < $n:expr, $body:block) => {
        unroll!($t < (if $n < 8 { $n } else { 8 }), [0 1 2 3 4 5 6 7], $body);
        for $t in 8..$n {
            $body
        }
    };
}

/// Whether the vector kernels' masked multiply-add for the vector at output column `x0` and kernel
/// column `kx` runs: some lane of it, inside the output row, reads a column inside the input row.
#[inline(always)]
fn reaches<const W: usize, const WO: usize>(x0: usize, kx: usize, g: Geometry) -> bool {
    let off = x0.wrapping_mul(g.s).wrapping_add(kx).wrapping_sub(g.pad_left);
    (0..LANES.min(WO.saturating_sub(x0))).any(|l| off.wrapping_add(l.wrapping_mul(g.s)) < W)
}

/// [`grads::weight_grads`](super::grads::weight_grads) in scalars, the same bits: `dL/dw` of the
/// samples `xs` with error signals `ds`, applied to `w` by `update`, `FB` filters × one kernel row
/// at a time ([`block`]).
#[inline(always)]
pub(super) fn weight_grads<
    T: Scalar,
    G: Geometric,
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
    w: &mut [[[[T; KW]; KH]; C]; F],
    update: Update<T>,
) {
    let n = xs.len().min(ds.len());
    let (xs, ds) = (xs.get(..n).unwrap_or(&[]), ds.get(..n).unwrap_or(&[]));
    for f0 in (0..F).step_by(FB) {
        for c in 0..C {
            for ky in 0..KH {
                let mut sums = [[T::ZERO; KW]; FB];
                block::<T, G, C, H, W, F, KW, HO, WO, FB>(xs, ds, (f0, c, ky), &mut sums);
                for (sums, f) in sums.iter().zip(f0..F) {
                    let Some(wf) = w.get_mut(f) else { continue };
                    for (p, &s) in wf[c][ky].iter_mut().zip(sums) {
                        update.apply(p, s);
                    }
                }
            }
        }
    }
}

/// The gradients of filters `f0 ..` (`FB` of them), channel `c`, kernel row `ky`, written to
/// `out`: each lane's sum ([`lane`]), then the lanes summed by [`Exact`]'s `Vector::sum`, the
/// vector kernels' own reduction.
#[inline(never)]
fn block<
    T: Scalar,
    G: Geometric,
    const C: usize,
    const H: usize,
    const W: usize,
    const F: usize,
    const KW: usize,
    const HO: usize,
    const WO: usize,
    const FB: usize,
>(
    xs: &[[[[T; W]; H]; C]],
    ds: &[[[[T; WO]; HO]; F]],
    (f0, c, ky): (usize, usize, usize),
    out: &mut [[T; KW]; FB],
) {
    let g = G::SLIDING;
    // The last vector's column and its lanes inside the row.
    let last = WO.saturating_sub(1) / LANES * LANES;
    let filled = WO.saturating_sub(last);
    // Whether a sample's row reaches the input for this kernel row.
    let rows =
        !xs.is_empty() && (0..HO).any(|y| y.wrapping_mul(g.s).wrapping_add(ky).wrapping_sub(g.pad_top) < H);
    let mut lanes = [[[-T::ZERO; KW]; FB]; LANES];
    for (l, sums) in lanes.iter_mut().enumerate() {
        if l < WO {
            *sums = lane::<T, G, C, H, W, F, KW, HO, WO, FB>(xs, ds, (f0, c, ky, l));
        }
        // A lane past the end of the last vector: `+0` if a masked multiply-add ran (see the
        // module documentation).
        if l >= filled && rows {
            for kx in 0..KW {
                if reaches::<W, WO>(last, kx, g) {
                    for sums in sums.iter_mut() {
                        if let Some(s) = sums.get_mut(kx) {
                            *s += T::ZERO;
                        }
                    }
                }
            }
        }
    }
    let [l0, l1, l2, l3, l4, l5, l6, l7] = &lanes;
    for (k, out) in out.iter_mut().enumerate() {
        for (t, out) in out.iter_mut().enumerate() {
            let at = |l: &[[T; KW]; FB]| l.get(k).and_then(|l| l.get(t)).copied().unwrap_or(T::ZERO);
            *out = Exact([at(l0), at(l1), at(l2), at(l3), at(l4), at(l5), at(l6), at(l7)]).sum();
        }
    }
}

/// Lane `l` of the gradients of [`block`]: the vector kernels' sums of that lane, from `-0`.
#[inline(always)]
fn lane<
    T: Scalar,
    G: Geometric,
    const C: usize,
    const H: usize,
    const W: usize,
    const F: usize,
    const KW: usize,
    const HO: usize,
    const WO: usize,
    const FB: usize,
>(
    xs: &[[[[T; W]; H]; C]],
    ds: &[[[[T; WO]; HO]; F]],
    (f0, c, ky, l): (usize, usize, usize, usize),
) -> [[T; KW]; FB] {
    let g = G::SLIDING;
    // Whether every tap of every output column lies inside the input row.
    let inside = g.pad_left == 0 && WO.saturating_sub(1).wrapping_mul(g.s).wrapping_add(KW) <= W;
    let mut acc = [[-T::ZERO; KW]; FB];
    for (x, d) in xs.iter().zip(ds) {
        let Some(x) = x.get(c) else { continue };
        for y in 0..HO {
            let iy = y.wrapping_mul(g.s).wrapping_add(ky).wrapping_sub(g.pad_top);
            let Some(row) = x.get(iy) else { continue };
            let mut col = l;
            while col < WO {
                let mut dv = [T::ZERO; FB];
                unroll!(k < FB, [0 1 2 3 4 5 6 7], {
                    let drow = d.get(f0.wrapping_add(k).min(F.saturating_sub(1))).and_then(|p| p.get(y));
                    dv[k] = drow.and_then(|r| r.get(col)).copied().unwrap_or(T::ZERO);
                });
                let at = col.wrapping_mul(g.s).wrapping_sub(g.pad_left);
                if inside {
                    if let Some(taps) = row.get(at..).and_then(|r| r.first_chunk::<KW>()) {
                        each_tap!(kx < KW, {
                            let v = taps.get(kx).copied().unwrap_or(T::ZERO);
                            unroll!(k < FB, [0 1 2 3 4 5 6 7], {
                                if let Some(a) = acc[k].get_mut(kx) {
                                    *a += dv[k] * v;
                                }
                            });
                        });
                    }
                } else {
                    each_tap!(kx < KW, {
                        let v = match row.get(at.wrapping_add(kx)) {
                            Some(&v) => Some(v),
                            // In the padding: `d · 0` when the vector's multiply-add runs.
                            None => reaches::<W, WO>(col.wrapping_sub(l), kx, g).then_some(T::ZERO),
                        };
                        if let Some(v) = v {
                            unroll!(k < FB, [0 1 2 3 4 5 6 7], {
                                if let Some(a) = acc[k].get_mut(kx) {
                                    *a += dv[k] * v;
                                }
                            });
                        }
                    });
                }
                col = col.wrapping_add(LANES);
            }
        }
    }
    acc
}

/// [`grads::bias_grads`](super::grads::bias_grads) in scalars, the same bits: `dL/db[f]` of the
/// samples' error signals `ds`, lane `l` summing the elements `l mod 8` of each flattened plane
/// (and `+0` past the end of a partial last chunk, as the vector kernels' masked multiply-add),
/// then the lanes summed by [`Exact`]'s `Vector::sum`.
#[inline(always)]
pub(super) fn bias_grads<T: Scalar, const F: usize, const HO: usize, const WO: usize>(
    ds: &[[[[T; WO]; HO]; F]],
    b: &mut [T; F],
    update: Update<T>,
) {
    for (bf, f) in b.iter_mut().zip(0..F) {
        let mut acc = [-T::ZERO; LANES];
        for d in ds {
            let Some(plane) = d.get(f) else { continue };
            let (chunks, rest) = plane.as_flattened().as_chunks::<LANES>();
            for chunk in chunks {
                unroll!(l < LANES, [0 1 2 3 4 5 6 7], {
                    acc[l] += chunk[l] * T::ONE;
                });
            }
            if !rest.is_empty() {
                unroll!(l < LANES, [0 1 2 3 4 5 6 7], {
                    acc[l] += rest.get(l).map_or(T::ZERO, |&x| x * T::ONE);
                });
            }
        }
        update.apply(bf, Exact(acc).sum());
    }
}
