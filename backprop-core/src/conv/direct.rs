//! The register-blocked correlation behind both the forward pass and, for stride 1, the input
//! gradient: `out[o][y][x] = init[o] + Σ_{i, ky, kx} k(o, i, ky, kx) · in[i][y·s + ky - pt][x·s + kx - pl]`,
//! the taps that fall outside the input skipped.
//!
//! The forward pass is that with the layer's weights `k = w[o][i][ky][kx]`; the input gradient of a
//! stride-1 convolution is that over `delta` with the weights transposed and turned by half a
//! turn, `k = w[i][o][KH-1-ky][KW-1-kx]`, and `KH - 1 - pt`, `KW - 1 - pl` zeros before
//! ([`Weights`]).
//!
//! # Register tile
//!
//! Output rows are cut into vectors of [`LANES`] columns. A tile is `OB` output channels × `R`
//! rows × `Q` vectors of a row, `OB · R · Q` accumulators in registers, with no load or store of
//! them until every tap is summed: for each tap (input channel, kernel row, kernel column) each of
//! the tile's `R · Q` input vectors is loaded once and multiplied by `OB` weights, each weight
//! broadcast once for `R · Q` vectors. The shape is chosen per layer ([`Tile::pick`]) among a few
//! that fit the backend's registers, for the least work counting the lanes past the end of a
//! row or channel (a tile past the last channel, row or vector recomputes the last one and stores
//! the same values again).
//!
//! # Order
//!
//! Each output is `init`, then the products of the taps in order (input channel, kernel row,
//! kernel column), one after another: the order of the formula, independent of the tile, so a
//! sample gives the same bits alone or in a batch (and for the forward pass with the exact
//! arithmetic, the same bits as a plain loop over the taps). A tap outside the input reads a
//! zero (a masked load), so it adds `w · 0`; a kernel row that no row of the tile reaches is
//! left out.

use super::lanes::{ALL, LANES, Vector, build};
use crate::Scalar;
use crate::kernel::unroll;

/// Where a correlation reads and writes: the input planes `hi × wi`, the output planes
/// `ho × wo` (rows `row0 ..` of the whole output, for a block of rows), the stride and the zeros
/// before the input (rows, columns).
#[derive(Clone, Copy)]
pub(super) struct Plan {
    pub row0: usize,
    pub hi: usize,
    pub wi: usize,
    pub ho: usize,
    pub wo: usize,
    pub s: usize,
    pub pt: usize,
    pub pl: usize,
}

/// The kernels of a correlation: `INPUTS` input channels, `OUTPUTS` output channels, `KH × KW`
/// taps.
pub(super) trait Taps<T, const KH: usize, const KW: usize> {
    /// Input channels.
    const INPUTS: usize;
    /// Output channels.
    const OUTPUTS: usize;
    /// Whether the kernels are read turned by half a turn (tap `(ky, kx)` is `[KH-1-ky][KW-1-kx]`).
    const TURNED: bool;
    /// One kernel, as [`at`](Self::at) reads it.
    type Kernel: Copy;
    /// The kernels from input channel `i` to output channels `o0 .. o0 + OB` (the last output
    /// channel for those past it).
    fn block<const OB: usize>(&self, o0: usize, i: usize) -> [Self::Kernel; OB];
    /// The weight of tap `(ty, tx)` of kernel `k`.
    fn at(k: Self::Kernel, ty: usize, tx: usize) -> T;
}

/// A layer's weights `w[f][c][ky][kx]` as the kernels of a correlation: from `C` input channels to
/// `F` outputs (the forward pass), or `TURNED`, transposed and turned, from `F` to `C` (the input
/// gradient).
pub(super) struct Weights<
    'a,
    T,
    const C: usize,
    const KH: usize,
    const KW: usize,
    const F: usize,
    const TURNED: bool,
>(pub &'a [[[[T; KW]; KH]; C]; F]);

impl<'a, T: Copy, const C: usize, const KH: usize, const KW: usize, const F: usize, const TURNED: bool>
    Taps<T, KH, KW> for Weights<'a, T, C, KH, KW, F, TURNED>
{
    const INPUTS: usize = if TURNED { F } else { C };
    const OUTPUTS: usize = if TURNED { C } else { F };
    const TURNED: bool = TURNED;
    type Kernel = &'a [[T; KW]; KH];
    #[inline(always)]
    fn at(k: Self::Kernel, ty: usize, tx: usize) -> T {
        k[ty][tx]
    }
    #[inline(always)]
    fn block<const OB: usize>(&self, o0: usize, i: usize) -> [Self::Kernel; OB] {
        let last = Self::OUTPUTS.saturating_sub(1);
        let kernel = |o: usize| {
            let (f, c) = if TURNED { (i, o) } else { (o, i) };
            &self.0[f.min(F.saturating_sub(1))][c.min(C.saturating_sub(1))]
        };
        build(kernel(o0.min(last)), |k| kernel(o0.wrapping_add(k).min(last)))
    }
}

/// One input channel `c` of a layer's weights by kernel column, turned, as the `KH × 1` kernels
/// of a correlation from the `F` channels of `delta` to `KW` outputs: output `kx` sums, for each
/// input row, `w[f][c][ky][kx] · delta[f][row + pt - ky]` over `f` and `ky`, the first half of the
/// input gradient in [`kernels`](super::kernels) (the columns are added up shifted afterwards).
pub(super) struct Columns<'a, T, const C: usize, const KH: usize, const KW: usize, const F: usize> {
    pub w: &'a [[[[T; KW]; KH]; C]; F],
    pub c: usize,
}

impl<'a, T: Copy, const C: usize, const KH: usize, const KW: usize, const F: usize> Taps<T, KH, 1>
    for Columns<'a, T, C, KH, KW, F>
{
    const INPUTS: usize = F;
    const OUTPUTS: usize = KW;
    const TURNED: bool = true;
    type Kernel = (&'a [[T; KW]; KH], usize);
    #[inline(always)]
    fn at(k: Self::Kernel, ty: usize, _: usize) -> T {
        k.0[ty][k.1.min(KW.saturating_sub(1))]
    }
    #[inline(always)]
    fn block<const OB: usize>(&self, o0: usize, i: usize) -> [Self::Kernel; OB] {
        let kernel = &self.w[i.min(F.saturating_sub(1))][self.c.min(C.saturating_sub(1))];
        build((kernel, o0), |k| (kernel, o0.wrapping_add(k).min(KW.saturating_sub(1))))
    }
}

/// A register tile's shape: output channels × rows × vectors of a row.
#[derive(Clone, Copy, PartialEq, Debug)]
pub(super) struct Tile {
    pub ob: usize,
    pub r: usize,
    pub q: usize,
}

/// The shapes a correlation may use; [`Tile::pick`] returns an index into this list, which
/// [`correlate!`] matches to its const generics (in this order).
pub(super) const TILES: [Tile; 12] = [
    Tile { ob: 3, r: 1, q: 3 },
    Tile { ob: 4, r: 1, q: 2 },
    Tile { ob: 4, r: 2, q: 1 },
    Tile { ob: 2, r: 3, q: 1 },
    Tile { ob: 6, r: 1, q: 2 },
    Tile { ob: 6, r: 1, q: 3 },
    Tile { ob: 4, r: 4, q: 1 },
    Tile { ob: 8, r: 2, q: 1 },
    Tile { ob: 3, r: 3, q: 1 },
    Tile { ob: 5, r: 2, q: 1 },
    Tile { ob: 5, r: 4, q: 1 },
    Tile { ob: 1, r: 1, q: 1 },
];

impl Tile {
    /// The index in `tiles` of the shape of least cost for `outputs` × `rows` × `vectors`, among
    /// those whose accumulators, one vector per row and vector, and one more (the broadcast weight)
    /// fit `budget` registers of `size` registers per vector: the cost counts each multiply-add
    /// and half of each load (two loads issue per cycle beside two multiply-adds on recent cores).
    pub(super) const fn pick(
        tiles: &[Tile],
        outputs: usize,
        rows: usize,
        vectors: usize,
        size: usize,
        budget: usize,
    ) -> usize {
        let mut best = 0;
        let mut best_cost = usize::MAX;
        let mut k = 0;
        while k < tiles.len() {
            let t = tiles[k];
            let registers = (t.ob * t.r * t.q + t.r * t.q + 1) * size;
            if registers <= budget {
                let blocks = outputs.div_ceil(t.ob) * rows.div_ceil(t.r) * vectors.div_ceil(t.q);
                let madds = blocks * t.ob * t.r * t.q;
                let loads = blocks * (t.ob + t.r * t.q);
                let cost = 2 * madds + loads;
                if cost < best_cost {
                    best = k;
                    best_cost = cost;
                }
            }
            k += 1;
        }
        best
    }
}

/// `correlate!(pick, T, V, KH, KW; k, init, input, out, plan)`: the correlation of `input`
/// (`K::INPUTS` planes) into `out` (`K::OUTPUTS` planes), each output starting from `init[o]`
/// (zero without `init`), with the tile `TILES[pick]`.
///
/// Give `pick` as a `const` block (what [`Tile::pick`] chooses for the backend `V`): a `match` on
/// a constant compiles its one arm, in every profile. A function taking `pick` as an argument
/// would compile all twelve tiles, each twice (with and without masks), for every layer and
/// backend of a debug build, where nothing is inlined before code generation: that made the
/// convolutional test crates take minutes each to build.
macro_rules! correlate {
    ($pick:expr, $t:ty, $v:ty, $kh:expr, $kw:expr; $($arg:expr),+ $(,)?) => {{
        use super::direct::tiles;
        match $pick {
            0 => tiles::<$t, $v, _, $kh, $kw, 3, 1, 3>($($arg),+),
            1 => tiles::<$t, $v, _, $kh, $kw, 4, 1, 2>($($arg),+),
            2 => tiles::<$t, $v, _, $kh, $kw, 4, 2, 1>($($arg),+),
            3 => tiles::<$t, $v, _, $kh, $kw, 2, 3, 1>($($arg),+),
            4 => tiles::<$t, $v, _, $kh, $kw, 6, 1, 2>($($arg),+),
            5 => tiles::<$t, $v, _, $kh, $kw, 6, 1, 3>($($arg),+),
            6 => tiles::<$t, $v, _, $kh, $kw, 4, 4, 1>($($arg),+),
            7 => tiles::<$t, $v, _, $kh, $kw, 8, 2, 1>($($arg),+),
            8 => tiles::<$t, $v, _, $kh, $kw, 3, 3, 1>($($arg),+),
            9 => tiles::<$t, $v, _, $kh, $kw, 5, 2, 1>($($arg),+),
            10 => tiles::<$t, $v, _, $kh, $kw, 5, 4, 1>($($arg),+),
            11 => tiles::<$t, $v, _, $kh, $kw, 1, 1, 1>($($arg),+),
            _ => {}
        }
    }};
}
pub(super) use correlate;

/// Every tile of the output, `OB × R × Q` at a time (through [`correlate!`]).
#[inline(always)]
pub(super) fn tiles<
    T: Scalar,
    V: Vector<T>,
    K: Taps<T, KH, KW>,
    const KH: usize,
    const KW: usize,
    const OB: usize,
    const R: usize,
    const Q: usize,
>(
    k: &K,
    init: Option<&[T]>,
    input: &[T],
    out: &mut [T],
    p: Plan,
) {
    let vectors = p.wo.div_ceil(LANES);
    let plane = p.ho.wrapping_mul(p.wo);
    for o0 in (0..K::OUTPUTS).step_by(OB) {
        let start: [T; OB] = build(T::ZERO, |k| {
            let o = o0.wrapping_add(k).min(K::OUTPUTS.saturating_sub(1));
            init.and_then(|init| init.get(o)).copied().unwrap_or(T::ZERO)
        });
        for y0 in (0..p.ho).step_by(R) {
            for q0 in (0..vectors).step_by(Q) {
                // The tile's rows and vectors, those past the end recomputing the last.
                let ys: [usize; R] = build(0, |r| y0.wrapping_add(r).min(p.ho.saturating_sub(1)));
                let xs: [usize; Q] =
                    build(0, |q| q0.wrapping_add(q).min(vectors.saturating_sub(1)).wrapping_mul(LANES));
                // The rows of the whole output, for the input they read.
                let rows: [usize; R] = build(0, |r| ys[r].wrapping_add(p.row0));
                let acc = tile::<T, V, K, KH, KW, OB, R, Q>(k, &start, input, o0, &rows, &xs, p);
                for (acc, ok) in acc.iter().zip(0..OB) {
                    let o = o0.wrapping_add(ok).min(K::OUTPUTS.saturating_sub(1));
                    for (&y, acc) in ys.iter().zip(acc) {
                        let row = o.wrapping_mul(plane).wrapping_add(y.wrapping_mul(p.wo));
                        for (&x0, &v) in xs.iter().zip(acc) {
                            let n = p.wo.saturating_sub(x0).min(LANES);
                            let at = row.wrapping_add(x0);
                            if let Some(dst) = out.get_mut(at..at.wrapping_add(n)) {
                                v.store(dst);
                            }
                        }
                    }
                }
            }
        }
    }
}

/// Which taps of a tile reach the input: for each row and kernel row whether the input row
/// exists, for each vector and kernel column the lanes whose input column does (of the lanes of
/// the output row).
struct Masks<const R: usize, const Q: usize, const KH: usize, const KW: usize> {
    rows: [[bool; KH]; R],
    lanes: [[u8; KW]; Q],
}

impl<const R: usize, const Q: usize, const KH: usize, const KW: usize> Masks<R, Q, KH, KW> {
    #[inline(always)]
    fn new(ys: &[usize; R], xs: &[usize; Q], p: Plan) -> Self {
        let rows = build([false; KH], |r| {
            build(false, |ky| ys[r].wrapping_mul(p.s).wrapping_add(ky).wrapping_sub(p.pt) < p.hi)
        });
        let lanes = build([0; KW], |q| {
            build(0, |kx| {
                let mut m = 0u8;
                for l in 0..LANES.min(p.wo.saturating_sub(xs[q])) {
                    let x = xs[q].wrapping_add(l).wrapping_mul(p.s).wrapping_add(kx).wrapping_sub(p.pl);
                    if x < p.wi {
                        m |= 1 << l;
                    }
                }
                m
            })
        });
        Self { rows, lanes }
    }
}

/// One tile: the sums of outputs `o0 ..`, rows `ys`, vectors at columns `xs`.
#[inline(always)]
#[allow(clippy::too_many_arguments)] // a kernel's operands
fn tile<
    T: Scalar,
    V: Vector<T>,
    K: Taps<T, KH, KW>,
    const KH: usize,
    const KW: usize,
    const OB: usize,
    const R: usize,
    const Q: usize,
>(
    k: &K,
    start: &[T; OB],
    input: &[T],
    o0: usize,
    ys: &[usize; R],
    xs: &[usize; Q],
    p: Plan,
) -> [[[V; Q]; R]; OB] {
    let acc: [[[V; Q]; R]; OB] = build([[V::splat(T::ZERO); Q]; R], |k| [[V::splat(start[k]); Q]; R]);
    // Every tap of the tile inside the input (the rows and vectors are in order, so the first and
    // the last decide): no mask. Lanes past the end of an output row read on into the next row
    // (or, at the end of the input, go through `load_masked`), and are not stored.
    let (first_y, last_y) = (ys[0].wrapping_mul(p.s), ys[R - 1].wrapping_mul(p.s));
    let (first_x, last_x) = (xs[0].wrapping_mul(p.s), xs[Q - 1]);
    let last_x =
        last_x.wrapping_add(p.wo.saturating_sub(last_x).min(LANES)).wrapping_sub(1).wrapping_mul(p.s);
    let inside = first_y >= p.pt
        && last_y.wrapping_add(KH).wrapping_sub(1).wrapping_sub(p.pt) < p.hi
        && first_x >= p.pl
        && last_x.wrapping_add(KW).wrapping_sub(1).wrapping_sub(p.pl) < p.wi;
    if inside {
        taps::<T, V, K, KH, KW, OB, R, Q, false>(k, acc, input, o0, ys, xs, p, None)
    } else {
        taps::<T, V, K, KH, KW, OB, R, Q, true>(k, acc, input, o0, ys, xs, p, Some(&Masks::new(ys, xs, p)))
    }
}

/// The taps of one tile, added to `acc`: with `MASKED`, each lane reads its input only where
/// `masks` says it exists, zero elsewhere (and a row of the kernel is left out where no row of the
/// tile reaches the input).
#[inline(always)]
#[allow(clippy::too_many_arguments)] // a kernel's operands
fn taps<
    T: Scalar,
    V: Vector<T>,
    K: Taps<T, KH, KW>,
    const KH: usize,
    const KW: usize,
    const OB: usize,
    const R: usize,
    const Q: usize,
    const MASKED: bool,
>(
    k: &K,
    mut acc: [[[V; Q]; R]; OB],
    input: &[T],
    o0: usize,
    ys: &[usize; R],
    xs: &[usize; Q],
    p: Plan,
    masks: Option<&Masks<R, Q, KH, KW>>,
) -> [[[V; Q]; R]; OB] {
    // Offsets of the tile's vectors from the input's start, for the tap (0, 0, 0).
    let base: [[usize; Q]; R] = build([0; Q], |r| {
        let row = ys[r].wrapping_mul(p.s).wrapping_sub(p.pt).wrapping_mul(p.wi);
        build(0, |q| row.wrapping_add(xs[q].wrapping_mul(p.s)).wrapping_sub(p.pl))
    });
    let channel = p.hi.wrapping_mul(p.wi);
    for i in 0..K::INPUTS {
        let kernels = k.block::<OB>(o0, i);
        let at = i.wrapping_mul(channel);
        for ky in 0..KH {
            let at = at.wrapping_add(ky.wrapping_mul(p.wi));
            if let Some(masks) = masks.filter(|_| MASKED)
                && !masks.rows.iter().any(|r| r[ky])
            {
                continue;
            }
            for kx in 0..KW {
                let at = at.wrapping_add(kx);
                let (ty, tx) = if K::TURNED { (KH - 1 - ky, KW - 1 - kx) } else { (ky, kx) };
                // The tile's input vectors for this tap, then each weight times all of them: the
                // accumulators, the inputs and one broadcast weight in registers.
                // One grid each (see `unroll!`: nested lists would cost 8³ copies per instance).
                let mut x = [[V::splat(T::ZERO); Q]; R];
                unroll!((r, q) < (R, Q), [0 1 2 3 4 5 6 7], {
                    let off = base[r][q].wrapping_add(at);
                    x[r][q] = match masks.filter(|_| MASKED) {
                        Some(masks) => {
                            let m = if masks.rows[r][ky] { masks.lanes[q][kx] } else { 0 };
                            V::load_masked(input, off, p.s, m)
                        }
                        None => V::load(input, off, p.s).unwrap_or_else(|| V::load_masked(input, off, p.s, ALL)),
                    };
                });
                let mut w = V::splat(T::ZERO);
                unroll!((k, n) < (OB, R * Q), [0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23], {
                    if n == 0 {
                        w = V::splat(K::at(kernels[k], ty, tx));
                    }
                    let (r, q) = (n / Q, n % Q);
                    acc[k][r][q] = acc[k][r][q].madd(x[r][q], w);
                });
            }
        }
    }
    acc
}
