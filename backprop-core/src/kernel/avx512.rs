//! The `fma` feature's kernels, the [`Avx512Fma`] backend: `f32` layers of at least
//! [`FMA_MIN`](super::FMA_MIN) multiply-adds and [`FMA_MIN_INPUTS`](super::FMA_MIN_INPUTS) inputs,
//! on `x86_64` CPUs with AVX-512F, in 16 lanes of fused multiply-add. The forward pass is here,
//! the backward pass and the updates in [`backward`].
//!
//! # Why a second set
//!
//! The exact kernels round every product, then add, in 8 lanes. On a core with two 512-bit FMA
//! units (most of Intel's server cores since Skylake-SP) that arithmetic is capped at 1.5
//! multiply-add pairs of 256 bits per cycle, 37.5% of the FMA peak, while the big layers of a
//! batch step have the arithmetic intensity to run near the peak. These kernels spend it: one
//! `vfmadd` of 16 lanes per multiply-add, with the register tiles of the exact kernels widened to
//! 512 bits. They are opt-in because their results differ from the exact kernels' in the last
//! bits (one rounding per multiply-add instead of two, 16 partial sums instead of 8).
//!
//! # What stays fixed
//!
//! The order is still fixed by the sizes alone, never by the tile or the batch: lane `k` of a dot
//! product sums the indices `k mod 16` in order, starting from `-0.0`, then the 16 lanes reduce
//! in a fixed tree (halves, quarters, eighths, the last pair), and the bias comes after. So a
//! sample gives the same bits alone ([`gemv`]) or in a batch ([`gemm`]), and `Wᵀ delta` is the
//! same in [`backward`], [`backward_sgd`] and [`gemm_t`] (tested in `kernel::tests`). The tail of a
//! row that is not a multiple of 16 is one masked chunk: the lanes past the row are neither read
//! nor written, and a dot product's accumulators keep them as they were (`mask3_fmadd`).
//!
//! # Register tiles and memory
//!
//! As in `matrixmultiply`'s and `gemm`'s micro-kernels, each inner loop keeps 8 to 16 accumulators
//! in registers (two FMA units of 4 cycles' latency need 8 chains in flight):
//!
//! - `W x`: 8 rows for one sample ([`gemv`]). On a batch ([`gemm`]), 8 samples × 2 rows: 10 loads
//!   per 16 FMAs, and the samples' tile (8 × 3 kB for 784 inputs) stays in L1 while `W` streams
//!   from L2, 2 rows per 16 FMAs.
//! - The 16 sums of a tile reduce together (`reduce_many`): 15 adds and 30 shuffles instead of 64
//!   and 64, the same adds per sum.
//! - Aligned loads: when the rows are a multiple of 16 long, the inputs are first copied to the
//!   rows' offset from a 64-byte boundary, so that every load reads one cache line, not two; see
//!   `dot_tile` for why the sums stay the same bits.
//! - The outer products summed over a batch ([`gemm_outer`]), and the deferred updates of
//!   [`rank_update`], which start each tile from the weights: 4 rows × 4 chunks of 16 columns,
//!   columns outer and rows inner, so a block of columns of every sample stays in L1 while `W`
//!   and its gradient stream by once (rows outer would stream all the samples from L2 for every 4
//!   rows). The SGD update is applied as each tile is finished.
//! - `Wᵀ delta` ([`backward`], [`backward_sgd`], [`gemm_t`]): up to 8 chunks of 16 columns in
//!   registers while the rows of `W` stream by, with the gradient or the update of each row done
//!   in the same pass.

// AVX-512 intrinsics and `#[target_feature(enable = "avx512f")]` are stable since Rust 1.89, newer
// than the workspace's minimum (1.88): the `fma` feature documents that it needs 1.89.
#![allow(clippy::incompatible_msrv)]

use super::backend::Backend;
use super::common::{Sgd, outer_bias, view};
use crate::Scalar;
use core::arch::x86_64::*;

mod backward;
use backward::{backward, backward_sgd, gemm_outer, gemm_t, outer, rank_update, sgd};

/// Lanes of a 512-bit `f32` vector.
const LANES: usize = 16;

/// `true` when the CPU runs AVX-512F (which brings 512-bit FMA): known at compile time with
/// `-C target-feature=+avx512f` (or a `target-cpu` that has it), else detected at run time with
/// `std` (once, then one cached load). A `no_std` build without it at compile time says `false`.
#[inline(always)]
pub(crate) fn available() -> bool {
    #[cfg(target_feature = "avx512f")]
    {
        true
    }
    #[cfg(all(not(target_feature = "avx512f"), feature = "std"))]
    {
        std::is_x86_feature_detected!("avx512f")
    }
    #[cfg(all(not(target_feature = "avx512f"), not(feature = "std")))]
    {
        false
    }
}

/// The mask of the `n % 16` lanes of a row's last, partial chunk.
const fn tail_mask(n: usize) -> __mmask16 {
    ((1u32 << (n % LANES)) - 1) as __mmask16
}

/// Chunk `c` of a row: 16 values from `p + 16 c`, or with `MASKED` the lanes of `mask` (the others
/// `0.0`, not read).
///
/// # Safety
///
/// The loaded lanes must be readable.
#[target_feature(enable = "avx512f")]
#[inline]
unsafe fn load<const MASKED: bool>(p: *const f32, c: usize, mask: __mmask16) -> __m512 {
    // SAFETY: the caller's.
    unsafe {
        if MASKED {
            _mm512_maskz_loadu_ps(mask, p.wrapping_add(c * LANES))
        } else {
            _mm512_loadu_ps(p.wrapping_add(c * LANES))
        }
    }
}

/// Stores chunk `c` of a row (with `MASKED`, the lanes of `mask` only).
///
/// # Safety
///
/// The stored lanes must be writable.
#[target_feature(enable = "avx512f")]
#[inline]
unsafe fn store<const MASKED: bool>(p: *mut f32, c: usize, mask: __mmask16, v: __m512) {
    // SAFETY: the caller's.
    unsafe {
        if MASKED {
            _mm512_mask_storeu_ps(p.add(c * LANES), mask, v);
        } else {
            _mm512_storeu_ps(p.add(c * LANES), v);
        }
    }
}

/// The sum of 16 lanes in a fixed order: `l_k + l_{k+8}`, then `+ l_{k+4}`, `+ l_{k+2}`, and
/// the last pair.
#[target_feature(enable = "avx512f")]
#[inline]
fn reduce16(v: __m512) -> f32 {
    let high = _mm256_castpd_ps(_mm512_extractf64x4_pd::<1>(_mm512_castps_pd(v)));
    let eighths = _mm256_add_ps(_mm512_castps512_ps256(v), high);
    let quarters = _mm_add_ps(_mm256_castps256_ps128(eighths), _mm256_extractf128_ps::<1>(eighths));
    let pairs = _mm_add_ps(quarters, _mm_movehl_ps(quarters, quarters));
    _mm_cvtss_f32(_mm_add_ss(pairs, _mm_shuffle_ps::<1>(pairs, pairs)))
}

/// One vector of each row of a [`dot_tile`]: the `v`-th from `m` floats before the row's start,
/// its lanes multiplied and added into the tile (with `MASKED`, only the lanes of `mask`, the
/// others left as they are).
///
/// # Safety
///
/// The lanes loaded must be readable.
#[target_feature(enable = "avx512f")]
#[inline]
unsafe fn step<const S: usize, const R: usize, const MASKED: bool>(
    acc: &mut [[__m512; R]; S],
    xs: [*const f32; S],
    rows: [*const f32; R],
    m: usize,
    v: usize,
    mask: __mmask16,
) {
    let mut x = [_mm512_setzero_ps(); S];
    for s in 0..S {
        // SAFETY: the caller's (`wrapping_sub`: the start of a masked vector may lie before the row).
        x[s] = unsafe { load::<MASKED>(xs[s].wrapping_sub(m), v, mask) };
    }
    for r in 0..R {
        // SAFETY: as above.
        let w = unsafe { load::<MASKED>(rows[r].wrapping_sub(m), v, mask) };
        for s in 0..S {
            acc[s][r] = if MASKED {
                _mm512_mask3_fmadd_ps(w, x[s], acc[s][r], mask)
            } else {
                _mm512_fmadd_ps(w, x[s], acc[s][r])
            };
        }
    }
}

/// `out[s][r] = bias[r] + xs[s] · rows[r]`, a tile of `S × R` accumulators over the chunks of
/// the rows (the same operations for each dot product whatever `S` and `R`).
///
/// With `shift = Some(m)` (`I` a multiple of 16, and every row and input starting `m` floats past a
/// 64-byte boundary), the loads are aligned: each one reads a whole cache line, where a load
/// straddling two lines costs two (the heap puts data 16 bytes past a cache line). Element `i` then
/// sits in lane `(i + m) mod 16` instead of `i mod 16`: each lane sums the same elements in the
/// same order, only in another lane, and the reduction does not depend on that rotation (see
/// below). The first and last (partial) vectors are masked, and a masked-off lane is left as it is
/// (`mask3_fmadd`): the sums are bit for bit those of the unaligned loads, wherever the data lies.
///
/// # Safety
///
/// `xs[s]` and `rows[r]` point to `I` readable `f32`s (with the alignment above when `shift` is
/// given).
#[target_feature(enable = "avx512f")]
#[inline]
unsafe fn dot_tile<const I: usize, const S: usize, const R: usize>(
    xs: [*const f32; S],
    rows: [*const f32; R],
    shift: Option<usize>,
    bias: [f32; R],
) -> [[f32; R]; S] {
    let mut acc = [[_mm512_set1_ps(-0.0); R]; S];
    // SAFETY (every `step`): the lanes it loads are elements of the rows (the caller's).
    match shift {
        None => {
            for v in 0..I / LANES {
                unsafe { step::<S, R, false>(&mut acc, xs, rows, 0, v, 0) };
            }
            if !I.is_multiple_of(LANES) {
                unsafe { step::<S, R, true>(&mut acc, xs, rows, 0, I / LANES, tail_mask(I)) };
            }
        }
        Some(m) => {
            unsafe { step::<S, R, true>(&mut acc, xs, rows, m, 0, (0xffff_u32 << m) as __mmask16) };
            for v in 1..I / LANES {
                unsafe { step::<S, R, false>(&mut acc, xs, rows, m, v, 0) };
            }
            if m != 0 {
                unsafe { step::<S, R, true>(&mut acc, xs, rows, m, I / LANES, tail_mask(m)) };
            }
            // Lane `k` of the unshifted order is lane `(k + m) mod 16` here, and that is all: the
            // reduction tree adds lanes `k` and `k + 8`, then `k + 4`, `k + 2`, `k + 1`, modulo the
            // width at each level, so a rotation of the lanes only swaps the operands of some adds
            // (commutative, so the same bits).
        }
    }
    // Tiles of 16 or 8 dot products reduce together (see `reduce_many`), others one by one: the
    // same adds either way.
    let mut sums = [0.0; 16];
    if S * R == 16 || S * R == 8 {
        let mut flat = [_mm512_setzero_ps(); 16];
        for s in 0..S {
            for r in 0..R {
                flat[s * R + r] = acc[s][r];
            }
        }
        sums = if S * R == 16 { reduce_many::<4>(flat) } else { reduce_many::<2>(flat) };
    } else {
        for s in 0..S {
            for r in 0..R {
                sums[(s * R + r) % 16] = reduce16(acc[s][r]);
            }
        }
    }
    let mut out = [[0.0; R]; S];
    for s in 0..S {
        for r in 0..R {
            out[s][r] = bias[r] + sums[(s * R + r) % 16];
        }
    }
    out
}

/// The sums of the first `4 · GROUPS` accumulators of `acc` (8 or 16), each
/// reduced exactly as [`reduce16`] does (the same four adds of the same lanes) but several in one
/// vector: each level of the tree adds two vectors holding the halves (then quarters, eighths,
/// pairs) of two, four, eight, sixteen accumulators, gathered by shuffles. That is 15 adds and
/// 30 shuffles for 16 accumulators instead of 64 and 64. `GROUPS` is 2 (8 accumulators) or 4 (16).
#[target_feature(enable = "avx512f")]
#[inline]
fn reduce_many<const GROUPS: usize>(acc: [__m512; 16]) -> [f32; 16] {
    // Blocks of 128 bits: `_mm512_shuffle_f32x4` picks two blocks of `a` then two of `b`.
    #[target_feature(enable = "avx512f")]
    #[inline]
    fn blocks<const LOW: i32, const HIGH: i32>(a: __m512, b: __m512) -> __m512 {
        _mm512_add_ps(_mm512_shuffle_f32x4::<LOW>(a, b), _mm512_shuffle_f32x4::<HIGH>(a, b))
    }
    // Lanes within each block: `_mm512_shuffle_ps` picks two lanes of `a` then two of `b`.
    #[target_feature(enable = "avx512f")]
    #[inline]
    fn lanes<const LOW: i32, const HIGH: i32>(a: __m512, b: __m512) -> __m512 {
        _mm512_add_ps(_mm512_shuffle_ps::<LOW>(a, b), _mm512_shuffle_ps::<HIGH>(a, b))
    }
    let n = 4 * GROUPS;
    // l_k + l_{k+8}: blocks (0, 1) + (2, 3), two accumulators per vector.
    let mut eighths = [_mm512_setzero_ps(); 8];
    for k in 0..n / 2 {
        eighths[k] = blocks::<0b01_00_01_00, 0b11_10_11_10>(acc[2 * k], acc[2 * k + 1]);
    }
    // + l_{k+4}: blocks (0, 2) + (1, 3), four per vector; block `b` of `quarters[m]` is `acc[4m + b]`.
    let mut quarters = [_mm512_setzero_ps(); 4];
    for m in 0..n / 4 {
        quarters[m] = blocks::<0b10_00_10_00, 0b11_01_11_01>(eighths[2 * m], eighths[2 * m + 1]);
    }
    // + l_{k+2}: lanes (0, 1) + (2, 3); block `b` of `pairs[p]` holds `acc[8p + b]`, `acc[8p + 4 + b]`.
    let pairs0 = lanes::<0b01_00_01_00, 0b11_10_11_10>(quarters[0], quarters[1]);
    let pairs1 =
        if GROUPS == 4 { lanes::<0b01_00_01_00, 0b11_10_11_10>(quarters[2], quarters[3]) } else { pairs0 };
    // The last pair: lanes (0, 2) + (1, 3); lane `4b + j` is `acc[4j + b]`.
    let sums = lanes::<0b10_00_10_00, 0b11_01_11_01>(pairs0, pairs1);
    let mut lanes_out = [0.0f32; 16];
    // SAFETY: 16 writable `f32`s.
    unsafe { _mm512_storeu_ps(lanes_out.as_mut_ptr(), sums) };
    core::array::from_fn(|i| lanes_out[4 * (i % 4) + i / 4])
}

/// Rows of `W x` per tile for one sample.
const GEMV_ROWS: usize = 8;
/// Samples × rows of the batched forward tile.
const TILE_SAMPLES: usize = 8;
const TILE_ROWS: usize = 2;

/// Bytes of stack a kernel may spend on aligned copies of its inputs (see [`Packed`]).
const PACK_MAX: usize = 64 * 1024;

/// An input of `I` values copied to start `m` floats past a 64-byte boundary, the offset of the
/// weights' rows, so that both are loaded aligned (see [`dot_tile`]). Only the copied values are
/// ever read (the vectors that reach beyond them are masked).
#[repr(C, align(64))]
struct Packed<const I: usize>([f32; LANES], [f32; I]);

impl<const I: usize> Packed<I> {
    /// Copies `x` into `slot` at offset `m`; returns where it starts.
    #[inline(always)]
    fn fill(slot: &mut core::mem::MaybeUninit<Self>, x: &[f32; I], m: usize) -> *const f32 {
        let start = slot.as_mut_ptr().cast::<f32>().wrapping_add(m);
        // SAFETY: `m < 16`, so `m .. m + I` lies within the `16 + I` floats of the slot.
        unsafe { core::ptr::copy_nonoverlapping(x.as_ptr(), start, I) };
        start
    }
}

/// The offset in floats of a row of `w` past a 64-byte boundary, when every row has the same one
/// (`I` a multiple of 16) and `S` inputs of `I` may be copied within [`PACK_MAX`].
#[inline(always)]
fn shift<const I: usize, const O: usize, const S: usize>(w: &[[f32; I]; O]) -> Option<usize> {
    let fits = S * size_of::<Packed<I>>() <= PACK_MAX;
    (I.is_multiple_of(LANES) && fits).then(|| w.as_ptr() as usize / size_of::<f32>() % LANES)
}

/// `z = W x + b` (see [`kernel::gemv`](super::gemv)).
#[target_feature(enable = "avx512f")]
#[inline(never)]
pub(super) fn gemv<const I: usize, const O: usize>(
    w: &[[f32; I]; O],
    b: &[f32; O],
    x: &[f32; I],
    z: &mut [f32; O],
) {
    /// With `x` copied to the rows' offset `m`. Never inlined: its stack frame holds the copy,
    /// which only inputs that fit in [`PACK_MAX`] may pay for.
    #[target_feature(enable = "avx512f")]
    #[inline(never)]
    fn packed<const I: usize, const O: usize>(
        w: &[[f32; I]; O],
        b: &[f32; O],
        x: &[f32; I],
        z: &mut [f32; O],
        m: usize,
    ) {
        let mut slot = core::mem::MaybeUninit::<Packed<I>>::uninit();
        // SAFETY: the copy is `I` floats at the rows' offset `m`.
        unsafe { rows(w, b, Packed::fill(&mut slot, x, m), z, Some(m)) }
    }
    /// # Safety
    ///
    /// `x` points to `I` readable floats, offset as `shift` says.
    #[target_feature(enable = "avx512f")]
    #[inline]
    unsafe fn rows<const I: usize, const O: usize>(
        w: &[[f32; I]; O],
        b: &[f32; O],
        x: *const f32,
        z: &mut [f32; O],
        shift: Option<usize>,
    ) {
        for o in (0..O - O % GEMV_ROWS).step_by(GEMV_ROWS) {
            let rows = core::array::from_fn::<_, GEMV_ROWS, _>(|r| w[o + r].as_ptr());
            let bias = core::array::from_fn::<_, GEMV_ROWS, _>(|r| b[o + r]);
            // SAFETY: `x` (the caller's) and the rows are `I` floats, offset as `shift` says.
            let [out] = unsafe { dot_tile::<I, 1, GEMV_ROWS>([x], rows, shift, bias) };
            z[o..o + GEMV_ROWS].copy_from_slice(&out);
        }
        for o in O - O % GEMV_ROWS..O {
            // SAFETY: as above.
            z[o] = unsafe { dot_tile::<I, 1, 1>([x], [w[o].as_ptr()], shift, [b[o]]) }[0][0];
        }
    }
    match shift::<I, O, 1>(w) {
        Some(m) => packed(w, b, x, z, m),
        // SAFETY: `x` is `I` floats; no shift.
        None => unsafe { rows(w, b, x.as_ptr(), z, None) },
    }
}

/// `zs[s] = W xs[s] + b` (see [`kernel::gemm`](super::gemm)), each equal to [`gemv`] of `xs[s]`.
#[target_feature(enable = "avx512f")]
#[inline(never)]
pub(super) fn gemm<const I: usize, const O: usize>(
    w: &[[f32; I]; O],
    b: &[f32; O],
    xs: &[[f32; I]],
    zs: &mut [[f32; O]],
) {
    /// A tile of samples, copied to the rows' offset `m` (never inlined, as in [`gemv`]).
    #[target_feature(enable = "avx512f")]
    #[inline(never)]
    fn packed<const I: usize, const O: usize>(
        w: &[[f32; I]; O],
        b: &[f32; O],
        xs: &[[f32; I]; TILE_SAMPLES],
        zs: &mut [[f32; O]; TILE_SAMPLES],
        m: usize,
    ) {
        let mut slots = [const { core::mem::MaybeUninit::<Packed<I>>::uninit() }; TILE_SAMPLES];
        let mut x = [core::ptr::null(); TILE_SAMPLES];
        for s in 0..TILE_SAMPLES {
            x[s] = Packed::fill(&mut slots[s], &xs[s], m);
        }
        // SAFETY: the copies are `I` floats at the rows' offset `m`.
        unsafe { tile(w, b, x, zs, Some(m)) }
    }
    /// # Safety
    ///
    /// Every `xs[s]` points to `I` readable floats, offset as `shift` says.
    #[target_feature(enable = "avx512f")]
    #[inline]
    unsafe fn tile<const I: usize, const O: usize>(
        w: &[[f32; I]; O],
        b: &[f32; O],
        x: [*const f32; TILE_SAMPLES],
        z: &mut [[f32; O]; TILE_SAMPLES],
        shift: Option<usize>,
    ) {
        for o in (0..O - O % TILE_ROWS).step_by(TILE_ROWS) {
            let rows = core::array::from_fn::<_, TILE_ROWS, _>(|r| w[o + r].as_ptr());
            let bias = core::array::from_fn::<_, TILE_ROWS, _>(|r| b[o + r]);
            // SAFETY: the samples (the caller's) and the rows are `I` floats, offset as `shift` says.
            let out = unsafe { dot_tile::<I, TILE_SAMPLES, TILE_ROWS>(x, rows, shift, bias) };
            for (z, out) in z.iter_mut().zip(out) {
                z[o..o + TILE_ROWS].copy_from_slice(&out);
            }
        }
        for o in O - O % TILE_ROWS..O {
            // SAFETY: as above.
            let out = unsafe { dot_tile::<I, TILE_SAMPLES, 1>(x, [w[o].as_ptr()], shift, [b[o]]) };
            for (z, [out]) in z.iter_mut().zip(out) {
                z[o] = out;
            }
        }
    }
    let (x_tiles, x_rest) = xs.as_chunks::<TILE_SAMPLES>();
    let (z_tiles, z_rest) = zs.as_chunks_mut::<TILE_SAMPLES>();
    let shift = shift::<I, O, TILE_SAMPLES>(w);
    for (x, z) in x_tiles.iter().zip(z_tiles) {
        match shift {
            Some(m) => packed(w, b, x, z, m),
            // SAFETY: the samples are `I` floats; no shift.
            None => unsafe { tile(w, b, core::array::from_fn(|s| x[s].as_ptr()), z, None) },
        }
    }
    for (x, z) in x_rest.iter().zip(z_rest) {
        gemv(w, b, x, z);
    }
}

/// The FMA kernels as a [`Backend`]: the operands are viewed as `f32` (the trait's contract: `T`
/// is `f32`, and the CPU has AVX-512F), and the biases of the batched outer products take the
/// exact loops, as in every build.
pub(super) struct Avx512Fma;

// SAFETY (every `unsafe` block below): the contract of `Backend`: `T` is `f32`, as `view`
// requires, and the CPU has AVX-512F, as the kernels' `#[target_feature]` requires.
impl Backend for Avx512Fma {
    #[inline(always)]
    unsafe fn gemv<T: Scalar, const I: usize, const O: usize>(
        w: &[[T; I]; O],
        b: &[T; O],
        x: &[T; I],
        z: &mut [T; O],
    ) {
        unsafe { gemv::<I, O>(view::of(w), view::of(b), view::of(x), view::of_mut(z)) }
    }

    #[inline(always)]
    unsafe fn backward<T: Scalar, const I: usize, const O: usize>(
        w: &[[T; I]; O],
        grad: &mut [[T; I]; O],
        x: &[T; I],
        delta: &[T; O],
        dx: &mut [T; I],
        accumulate: bool,
    ) {
        unsafe {
            backward::<I, O>(
                view::of(w),
                view::of_mut(grad),
                view::of(x),
                view::of(delta),
                view::of_mut(dx),
                accumulate,
            )
        }
    }

    #[inline(always)]
    unsafe fn backward_sgd<T: Scalar, const I: usize, const O: usize>(
        w: &mut [[T; I]; O],
        x: &[T; I],
        delta: &[T; O],
        step: T,
        dx: &mut [T; I],
    ) {
        unsafe {
            backward_sgd::<I, O>(
                view::of_mut(w),
                view::of(x),
                view::of(delta),
                view::scalar(step),
                view::of_mut(dx),
            )
        }
    }

    #[inline(always)]
    unsafe fn outer<T: Scalar, const I: usize, const O: usize>(
        grad: &mut [[T; I]; O],
        x: &[T; I],
        delta: &[T; O],
        accumulate: bool,
    ) {
        unsafe { outer::<I, O>(view::of_mut(grad), view::of(x), view::of(delta), accumulate) }
    }

    #[inline(always)]
    unsafe fn sgd<T: Scalar, const I: usize, const O: usize>(
        w: &mut [[T; I]; O],
        b: &mut [T; O],
        x: &[T; I],
        delta: &[T; O],
        step: T,
    ) {
        unsafe {
            sgd::<I, O>(view::of_mut(w), view::of_mut(b), view::of(x), view::of(delta), view::scalar(step))
        }
    }

    #[inline(always)]
    unsafe fn gemm<T: Scalar, const I: usize, const O: usize>(
        w: &[[T; I]; O],
        b: &[T; O],
        xs: &[[T; I]],
        zs: &mut [[T; O]],
    ) {
        unsafe { gemm::<I, O>(view::of(w), view::of(b), view::rows(xs), view::rows_mut(zs)) }
    }

    #[inline(always)]
    unsafe fn gemm_t<T: Scalar, const I: usize, const O: usize>(
        w: &[[T; I]; O],
        deltas: &[[T; O]],
        dxs: &mut [[T; I]],
    ) {
        unsafe { gemm_t::<I, O>(view::of(w), view::rows(deltas), view::rows_mut(dxs)) }
    }

    #[inline(always)]
    unsafe fn gemm_outer<T: Scalar, const I: usize, const O: usize>(
        grad: &mut [[T; I]; O],
        grad_b: &mut [T; O],
        xs: &[[T; I]],
        deltas: &[[T; O]],
        sgd: Option<Sgd<'_, T, I, O>>,
    ) {
        let n = xs.len().min(deltas.len());
        let (xs, deltas) = (&xs[..n], &deltas[..n]);
        let (weights, biases) = match sgd {
            Some((w, b, scale, lr)) => (Some((w, scale, lr)), Some((b, scale, lr))),
            None => (None, None),
        };
        unsafe {
            let weights =
                weights.map(|(w, scale, lr)| (view::of_mut(w), view::scalar(scale), view::scalar(lr)));
            gemm_outer::<I, O>(view::of_mut(grad), weights, view::rows(xs), view::rows(deltas));
        }
        outer_bias(grad_b, deltas, biases)
    }

    #[inline(always)]
    unsafe fn rank_update<T: Scalar, const I: usize, const O: usize>(
        w: &mut [[T; I]; O],
        xs: &[[T; I]],
        steps: &[[T; O]],
    ) {
        unsafe { rank_update::<I, O>(view::of_mut(w), view::rows(xs), view::rows(steps)) }
    }
}
