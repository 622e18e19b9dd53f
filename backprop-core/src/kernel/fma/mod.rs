//! The `fma` feature's kernels, the [`Avx512Fma`] and [`Avx2Fma`] backends: `f32` layers of at
//! least [`FMA_MIN`](super::FMA_MIN) multiply-adds and [`FMA_MIN_INPUTS`](super::FMA_MIN_INPUTS)
//! inputs, on `x86_64` CPUs with AVX-512F, or else AVX2 and FMA, in 16 lanes of fused
//! multiply-add. The forward pass is here, the backward pass and the updates in [`backward`], the
//! vectors in [`wide`](super::wide), the batched outer products in [`outer`](fn@super::outer).
//!
//! # Why a second set
//!
//! The exact kernels round every product, then add. On a core with two 512-bit FMA units (most
//! of Intel's server cores since Skylake-SP) that arithmetic is capped at one multiply-add pair
//! of 256 bits per cycle (1.5 on Golden Cove), 25–37.5% of the FMA peak, and at one pair of 512
//! bits, 50%, in the batch kernels that run on 512-bit vectors, while the big layers of a batch
//! step have the arithmetic intensity to run near the peak. These kernels spend it: one
//! fused multiply-add per multiply-add, with the register tiles of the exact kernels widened to
//! 16 lanes. They are opt-in because their results differ from the exact kernels' in the last
//! bits (one rounding per multiply-add instead of two, 16 partial sums instead of 8).
//!
//! # What stays fixed
//!
//! The order is still fixed by the sizes alone, never by the tile, the batch or the instruction
//! set: lane `k` of a dot product sums the indices `k mod 16` in order, starting from `-0.0`, then
//! the 16 lanes reduce in a fixed tree (halves, quarters, eighths, the last pair), and the bias
//! comes after. So a sample gives the same bits alone ([`gemv`]) or in a batch ([`gemm`]), and
//! `Wᵀ delta` is the same in `backward`, `backward_sgd` and `gemm_t` (tested in
//! `kernel::tests`). The tail of a row that is not a multiple of 16 is one masked chunk: the lanes
//! past the row are neither read nor written, and a dot product's accumulators keep them as they
//! were. On a CPU with AVX2 and FMA but not AVX-512F (most laptops, AMD before Zen 4, Intel's
//! client cores), the 16 lanes are two 256-bit vectors ([`YmmPair`]) doing the same
//! operations lane by lane: the two paths give the same bits (tested), so which one a CPU takes
//! changes the speed only. `BACKPROP_FMA=avx2` in the environment (read once, with `std`) makes a
//! CPU with AVX-512F take the AVX2 path, for tests and benchmarks.
//!
//! # Register tiles and memory
//!
//! As in `matrixmultiply`'s and `gemm`'s micro-kernels, each inner loop keeps 8 to 16 accumulators
//! in registers (two FMA units of 4 cycles' latency need 8 chains in flight). The tiles below are
//! AVX-512's (32 registers); with AVX2 (16 registers of 8 lanes), every tile keeps at most 8
//! 256-bit accumulators.
//!
//! - `W x`: 8 rows for one sample ([`gemv`]; 4 with AVX2). On a batch ([`gemm`]), 4 samples × 4
//!   rows (2 × 2 with AVX2): 8 loads per 16 FMAs, and the samples' tile (4 × 3 kB for 784 inputs)
//!   stays in L1 while `W` streams from L2, 4 rows per 16 FMAs. (8 samples × 2 rows, 10 loads
//!   per 16 FMAs, streamed `W` half as often and was 11% slower on an Ice Lake Xeon; 2 × 8, 33%.)
//! - The 16 sums of a tile reduce together (`wide::reduce_many`): 15 adds and 30 shuffles instead
//!   of 64 and 64, the same adds per sum.
//! - Aligned loads: when the rows are a multiple of 16 long, the inputs are first copied to the
//!   rows' offset from a 64-byte boundary, so that every load reads one cache line, not two; see
//!   `dot_tile` for why the sums stay the same bits.
//! - The outer products summed over a batch (`gemm_outer`), and the deferred updates of
//!   `rank_update`, which start each tile from the weights: 4 rows × 4 chunks of 16 columns
//!   (4 × 1 with AVX2), columns outer and rows inner, so a block of columns of every sample stays in
//!   L1 while `W` and its gradient stream by once (rows outer would stream all the samples from L2
//!   for every 4 rows). The SGD update is applied as each tile is finished.
//! - `Wᵀ delta` (`backward`, `backward_sgd`, `gemm_t`): up to 8 chunks of 16 columns in
//!   registers (3 with AVX2) while the rows of `W` stream by, with the gradient or the update of
//!   each row done in the same pass.
//!
//! Every kernel is written once over [`Wide`] and `#[inline(always)]`; each backend compiles it
//! in functions of its own with its `#[target_feature]` (`fma_backend!`).
//!
//! [`Wide`]: super::wide::Wide

use super::backend::Backend;
use super::common::view;
use crate::Scalar;
use crate::kernel::unroll;

mod backward;
mod micro;
use super::wide::{Fused, LANES, YmmPair, Zmm, load, tail_bits};
use super::{PACK_MAX, outer};
use micro::Micro;

/// Which FMA kernels a CPU runs: 512-bit vectors or pairs of 256-bit ones, the same bits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(not(feature = "std"), allow(dead_code))] // without `std`, the build's features decide
pub(super) enum Path {
    /// AVX-512F: one 512-bit vector of 16 lanes.
    Avx512,
    /// AVX2 and FMA: two 256-bit vectors.
    Avx2,
}

/// The FMA kernels this CPU runs, if any: AVX-512F when it has it (unless `BACKPROP_FMA=avx2`),
/// else AVX2 and FMA. With `std`, detected at run time (once, then one cached load); without,
/// what the build enables at compile time.
#[inline(always)]
pub(super) fn path() -> Option<Path> {
    #[cfg(feature = "std")]
    {
        match PATH.load(core::sync::atomic::Ordering::Relaxed) {
            UNKNOWN => set(detect()),
            code => decode(code),
        }
    }
    #[cfg(all(not(feature = "std"), target_feature = "avx512f"))]
    {
        Some(Path::Avx512)
    }
    #[cfg(all(
        not(feature = "std"),
        not(target_feature = "avx512f"),
        target_feature = "avx2",
        target_feature = "fma"
    ))]
    {
        Some(Path::Avx2)
    }
    #[cfg(all(
        not(feature = "std"),
        not(target_feature = "avx512f"),
        not(all(target_feature = "avx2", target_feature = "fma"))
    ))]
    {
        None
    }
}

/// [`path`], once detected: [`UNKNOWN`] before, then [`encode`]d.
#[cfg(feature = "std")]
static PATH: core::sync::atomic::AtomicU8 = core::sync::atomic::AtomicU8::new(UNKNOWN);
#[cfg(feature = "std")]
const UNKNOWN: u8 = 0;

#[cfg(feature = "std")]
const fn encode(path: Option<Path>) -> u8 {
    match path {
        None => 1,
        Some(Path::Avx2) => 2,
        Some(Path::Avx512) => 3,
    }
}

#[cfg(feature = "std")]
const fn decode(code: u8) -> Option<Path> {
    match code {
        2 => Some(Path::Avx2),
        3 => Some(Path::Avx512),
        _ => None,
    }
}

/// Makes `path` the path of every call from now on; returns it.
#[cfg(feature = "std")]
pub(super) fn set(path: Option<Path>) -> Option<Path> {
    PATH.store(encode(path), core::sync::atomic::Ordering::Relaxed);
    path
}

/// The CPU's features and `BACKPROP_FMA` (see [`path`]).
#[cfg(feature = "std")]
#[cold]
pub(super) fn detect() -> Option<Path> {
    let forced_avx2 = std::env::var_os("BACKPROP_FMA").is_some_and(|v| v == "avx2");
    let avx512 = std::is_x86_feature_detected!("avx512f");
    let avx2 = std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma");
    if avx512 && !(forced_avx2 && avx2) { Some(Path::Avx512) } else { avx2.then_some(Path::Avx2) }
}

/// The paths this CPU can run (for tests that run both).
#[cfg(all(test, feature = "std"))]
pub(super) fn runnable() -> impl Iterator<Item = Path> {
    let avx512 = std::is_x86_feature_detected!("avx512f");
    let avx2 = std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma");
    [avx512.then_some(Path::Avx512), avx2.then_some(Path::Avx2)].into_iter().flatten()
}

/// One vector of each row of a [`dot_tile`]: the `v`-th from `m` floats before the row's start,
/// its lanes multiplied and added into the tile (with `MASKED`, only the lanes of `mask`, the
/// others left as they are).
///
/// # Safety
///
/// The lanes loaded must be readable.
#[inline(always)]
unsafe fn step<F: Fused, const S: usize, const R: usize, const MASKED: bool>(
    f: F,
    acc: &mut [[F::V; R]; S],
    xs: [*const f32; S],
    rows: [*const f32; R],
    m: usize,
    v: usize,
    mask: F::M,
) {
    // Unrolled: the tile stays in registers at every opt-level (see `unroll!`).
    let mut x = [f.zero(); S];
    unroll!(s < S, [0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15], {
        // SAFETY: the caller's (`wrapping_sub`: the start of a masked vector may lie before the row).
        x[s] = unsafe { load::<F, MASKED>(f, xs[s].wrapping_sub(m), v, mask) };
    });
    let mut w = f.zero();
    unroll!((r, s) < (R, S), [0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15], {
        if s == 0 {
            // SAFETY: as above.
            w = unsafe { load::<F, MASKED>(f, rows[r].wrapping_sub(m), v, mask) };
        }
        acc[s][r] = if MASKED { f.fmadd_masked(w, x[s], acc[s][r], mask) } else { f.mul_add(w, x[s], acc[s][r]) };
    });
}

/// Whole vectors a [`steps`] loop takes per iteration.
const STEPS_UNROLLED: usize = 4;

/// [`step`] on the whole vectors `vs`, [`STEPS_UNROLLED`] per iteration of the loop (then one at a
/// time): a row of 784 inputs is 12 iterations rather than 48, which the `W x` tiles run faster
/// on Intel cores with two 512-bit FMA units (figures in BENCHMARKS.md and the commit that made
/// it).
///
/// # Safety
///
/// As [`step`], for every vector of `vs`.
#[inline(always)]
unsafe fn steps<F: Fused, const S: usize, const R: usize>(
    f: F,
    acc: &mut [[F::V; R]; S],
    xs: [*const f32; S],
    rows: [*const f32; R],
    m: usize,
    vs: core::ops::Range<usize>,
) {
    let mut v = vs.start;
    // SAFETY (every `step`): the caller's.
    while v + STEPS_UNROLLED <= vs.end {
        unroll!(u < STEPS_UNROLLED, [0 1 2 3], {
            unsafe { step::<F, S, R, false>(f, acc, xs, rows, m, v + u, f.mask(0)) };
        });
        v += STEPS_UNROLLED;
    }
    while v < vs.end {
        unsafe { step::<F, S, R, false>(f, acc, xs, rows, m, v, f.mask(0)) };
        v += 1;
    }
}

/// `out[s][r] = bias[r] + xs[s] · rows[r]`, a tile of `S × R ≤ 16` accumulators over the chunks
/// of the rows (the same operations for each dot product whatever `S` and `R`).
///
/// With `shift = Some(m)` (`I` a multiple of 16, and every row and input starting `m` floats past a
/// 64-byte boundary), the loads are aligned: each one reads a whole cache line, where a load
/// straddling two lines costs two (the heap puts data 16 bytes past a cache line). Element `i` then
/// sits in lane `(i + m) mod 16` instead of `i mod 16`: each lane sums the same elements in the
/// same order, only in another lane, and the reduction does not depend on that rotation (see
/// below). The first and last (partial) vectors are masked, and a masked-off lane is left as it is:
/// the sums are bit for bit those of the unaligned loads, wherever the data lies.
///
/// # Safety
///
/// `xs[s]` and `rows[r]` point to `I` readable `f32`s (with the alignment above when `shift` is
/// given).
#[inline(always)]
unsafe fn dot_tile<F: Fused, const I: usize, const S: usize, const R: usize>(
    f: F,
    xs: [*const f32; S],
    rows: [*const f32; R],
    shift: Option<usize>,
    bias: [f32; R],
) -> [[f32; R]; S] {
    const { assert!(S * R <= 16, "a tile reduces at most 16 accumulators") };
    let mut acc = [[f.splat(-0.0); R]; S];
    // SAFETY (every `step`): the lanes it loads are elements of the rows (the caller's).
    match shift {
        None => {
            unsafe { steps::<F, S, R>(f, &mut acc, xs, rows, 0, 0..I / LANES) };
            if !I.is_multiple_of(LANES) {
                unsafe { step::<F, S, R, true>(f, &mut acc, xs, rows, 0, I / LANES, f.mask(tail_bits(I))) };
            }
        }
        Some(m) => {
            unsafe { step::<F, S, R, true>(f, &mut acc, xs, rows, m, 0, f.mask(0xffff << m)) };
            unsafe { steps::<F, S, R>(f, &mut acc, xs, rows, m, 1..I / LANES) };
            if m != 0 {
                unsafe { step::<F, S, R, true>(f, &mut acc, xs, rows, m, I / LANES, f.mask(tail_bits(m))) };
            }
            // Lane `k` of the unshifted order is lane `(k + m) mod 16` here, and that is all: the
            // reduction tree adds lanes `k` and `k + 8`, then `k + 4`, `k + 2`, `k + 1`, modulo the
            // width at each level, so a rotation of the lanes only swaps the operands of some adds
            // (commutative, so the same bits).
        }
    }
    let mut flat = [f.zero(); 16];
    for s in 0..S {
        for r in 0..R {
            flat[s * R + r] = acc[s][r];
        }
    }
    let sums = f.reduce_tile::<S, R>(flat);
    let mut out = [[0.0; R]; S];
    for s in 0..S {
        for r in 0..R {
            out[s][r] = bias[r] + sums[s * R + r];
        }
    }
    out
}

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

/// `z = W x + b` (see [`kernel::gemv`](super::gemv)): tiles of 8 rows (4 on AVX2).
#[inline(always)]
fn gemv<F: Micro, const I: usize, const O: usize>(
    f: F,
    w: &[[f32; I]; O],
    b: &[f32; O],
    x: &[f32; I],
    z: &mut [f32; O],
) {
    if const { F::REGISTERS >= 32 } {
        gemv_rows::<F, I, O, 8>(f, w, b, x, z)
    } else {
        gemv_rows::<F, I, O, 4>(f, w, b, x, z)
    }
}

#[inline(always)]
fn gemv_rows<F: Micro, const I: usize, const O: usize, const ROWS: usize>(
    f: F,
    w: &[[f32; I]; O],
    b: &[f32; O],
    x: &[f32; I],
    z: &mut [f32; O],
) {
    /// # Safety
    ///
    /// `x` points to `I` readable floats, offset as `shift` says.
    #[inline(always)]
    unsafe fn rows<F: Micro, const I: usize, const O: usize, const ROWS: usize>(
        f: F,
        w: &[[f32; I]; O],
        b: &[f32; O],
        x: *const f32,
        z: &mut [f32; O],
        shift: Option<usize>,
    ) {
        for o in (0..O - O % ROWS).step_by(ROWS) {
            let rows = core::array::from_fn::<_, ROWS, _>(|r| w[o + r].as_ptr());
            let bias = core::array::from_fn::<_, ROWS, _>(|r| b[o + r]);
            // SAFETY: `x` (the caller's) and the rows are `I` floats, offset as `shift` says.
            let [out] = unsafe { f.dot_tile::<I, 1, ROWS>([x], rows, shift, bias) };
            z[o..o + ROWS].copy_from_slice(&out);
        }
        for o in O - O % ROWS..O {
            // SAFETY: as above.
            z[o] = unsafe { f.dot_tile::<I, 1, 1>([x], [w[o].as_ptr()], shift, [b[o]]) }[0][0];
        }
    }
    match shift::<I, O, 1>(w) {
        Some(m) => {
            // `x` copied to the rows' offset `m`.
            let mut slot = core::mem::MaybeUninit::<Packed<I>>::uninit();
            // SAFETY: the copy is `I` floats at the rows' offset `m`.
            unsafe { rows::<F, I, O, ROWS>(f, w, b, Packed::fill(&mut slot, x, m), z, Some(m)) }
        }
        // SAFETY: `x` is `I` floats; no shift.
        None => unsafe { rows::<F, I, O, ROWS>(f, w, b, x.as_ptr(), z, None) },
    }
}

/// `zs[s] = W xs[s] + b` (see [`kernel::gemm`](super::gemm)), each equal to [`gemv`] of `xs[s]`:
/// tiles of 4 samples × 4 rows (2 × 2 on AVX2).
#[inline(always)]
fn gemm<F: Micro, const I: usize, const O: usize>(
    f: F,
    w: &[[f32; I]; O],
    b: &[f32; O],
    xs: &[[f32; I]],
    zs: &mut [[f32; O]],
) {
    if const { F::REGISTERS >= 32 } {
        gemm_tiles::<F, I, O, 4, 4>(f, w, b, xs, zs)
    } else {
        gemm_tiles::<F, I, O, 2, 2>(f, w, b, xs, zs)
    }
}

#[inline(always)]
fn gemm_tiles<F: Micro, const I: usize, const O: usize, const S: usize, const R: usize>(
    f: F,
    w: &[[f32; I]; O],
    b: &[f32; O],
    xs: &[[f32; I]],
    zs: &mut [[f32; O]],
) {
    /// # Safety
    ///
    /// Every `xs[s]` points to `I` readable floats, offset as `shift` says.
    #[inline(always)]
    unsafe fn tile<F: Micro, const I: usize, const O: usize, const S: usize, const R: usize>(
        f: F,
        w: &[[f32; I]; O],
        b: &[f32; O],
        x: [*const f32; S],
        z: &mut [[f32; O]; S],
        shift: Option<usize>,
    ) {
        for o in (0..O - O % R).step_by(R) {
            let rows = core::array::from_fn::<_, R, _>(|r| w[o + r].as_ptr());
            let bias = core::array::from_fn::<_, R, _>(|r| b[o + r]);
            // SAFETY: the samples (the caller's) and the rows are `I` floats, offset as `shift` says.
            let out = unsafe { f.dot_tile::<I, S, R>(x, rows, shift, bias) };
            for (z, out) in z.iter_mut().zip(out) {
                z[o..o + R].copy_from_slice(&out);
            }
        }
        for o in O - O % R..O {
            // SAFETY: as above.
            let out = unsafe { f.dot_tile::<I, S, 1>(x, [w[o].as_ptr()], shift, [b[o]]) };
            for (z, [out]) in z.iter_mut().zip(out) {
                z[o] = out;
            }
        }
    }
    let (x_tiles, x_rest) = xs.as_chunks::<S>();
    let (z_tiles, z_rest) = zs.as_chunks_mut::<S>();
    let shift = shift::<I, O, S>(w);
    // Samples that already start at the rows' offset (every one does when the first does, `I`
    // being a multiple of 16) are read where they are, without a copy.
    let in_place = shift.is_some_and(|m| xs.as_ptr() as usize / size_of::<f32>() % LANES == m);
    for (x, z) in x_tiles.iter().zip(z_tiles) {
        let mut slots = [const { core::mem::MaybeUninit::<Packed<I>>::uninit() }; S];
        let samples: [*const f32; S] = match shift {
            // The tile of samples copied to the rows' offset `m`.
            Some(m) if !in_place => core::array::from_fn(|s| Packed::fill(&mut slots[s], &x[s], m)),
            _ => core::array::from_fn(|s| x[s].as_ptr()),
        };
        // SAFETY: the samples (or their copies) are `I` floats, at the rows' offset `m` when
        // `shift` is `Some(m)`.
        unsafe { tile::<F, I, O, S, R>(f, w, b, samples, z, shift) }
    }
    for (x, z) in x_rest.iter().zip(z_rest) {
        gemv(f, w, b, x, z);
    }
}

/// An FMA backend: each kernel over the vectors `$token` (a [`Wide`] token) in a function of its
/// own compiled with `#[target_feature(enable = $feature)]`, the operands viewed as `f32` (the
/// contract of [`Backend`]: `T` is `f32`, and the CPU has the features); the biases of the batched
/// outer products take the exact loops, as in every build.
///
/// [`Wide`]: super::wide::Wide
macro_rules! fma_backend {
    ($(#[$doc:meta])* $backend:ident, $feature:literal, $token:expr) => {
        $(#[$doc])*
        pub(super) struct $backend;

        // SAFETY (every `unsafe` block below): the contract of `Backend`: `T` is `f32`, as `view`
        // requires, and the CPU has the features, as `#[target_feature]` and the token require.
        impl Backend for $backend {
            #[inline(always)]
            unsafe fn gemv<T: Scalar, const I: usize, const O: usize>(w: &[[T; I]; O], b: &[T; O], x: &[T; I], z: &mut [T; O]) {
                #[target_feature(enable = $feature)]
                #[inline(never)]
                fn run<const I: usize, const O: usize>(w: &[[f32; I]; O], b: &[f32; O], x: &[f32; I], z: &mut [f32; O]) {
                    gemv(unsafe { $token }, w, b, x, z)
                }
                unsafe { run::<I, O>(view::of(w), view::of(b), view::of(x), view::of_mut(z)) }
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
                #[target_feature(enable = $feature)]
                #[inline(never)]
                fn run<const I: usize, const O: usize>(
                    w: &[[f32; I]; O],
                    grad: &mut [[f32; I]; O],
                    x: &[f32; I],
                    delta: &[f32; O],
                    dx: &mut [f32; I],
                    accumulate: bool,
                ) {
                    backward::backward(unsafe { $token }, w, grad, x, delta, dx, accumulate)
                }
                unsafe { run::<I, O>(view::of(w), view::of_mut(grad), view::of(x), view::of(delta), view::of_mut(dx), accumulate) }
            }

            #[inline(always)]
            unsafe fn backward_sgd<T: Scalar, const I: usize, const O: usize>(
                w: &mut [[T; I]; O],
                x: &[T; I],
                delta: &[T; O],
                step: T,
                dx: &mut [T; I],
            ) {
                #[target_feature(enable = $feature)]
                #[inline(never)]
                fn run<const I: usize, const O: usize>(w: &mut [[f32; I]; O], x: &[f32; I], delta: &[f32; O], step: f32, dx: &mut [f32; I]) {
                    backward::backward_sgd(unsafe { $token }, w, x, delta, step, dx)
                }
                unsafe { run::<I, O>(view::of_mut(w), view::of(x), view::of(delta), view::scalar(step), view::of_mut(dx)) }
            }

            #[inline(always)]
            unsafe fn outer<T: Scalar, const I: usize, const O: usize>(grad: &mut [[T; I]; O], x: &[T; I], delta: &[T; O], accumulate: bool) {
                #[target_feature(enable = $feature)]
                #[inline(never)]
                fn run<const I: usize, const O: usize>(grad: &mut [[f32; I]; O], x: &[f32; I], delta: &[f32; O], accumulate: bool) {
                    backward::outer(unsafe { $token }, grad, x, delta, accumulate)
                }
                unsafe { run::<I, O>(view::of_mut(grad), view::of(x), view::of(delta), accumulate) }
            }

            #[inline(always)]
            unsafe fn sgd<T: Scalar, const I: usize, const O: usize>(w: &mut [[T; I]; O], b: &mut [T; O], x: &[T; I], delta: &[T; O], step: T) {
                #[target_feature(enable = $feature)]
                #[inline(never)]
                fn run<const I: usize, const O: usize>(w: &mut [[f32; I]; O], b: &mut [f32; O], x: &[f32; I], delta: &[f32; O], step: f32) {
                    backward::sgd(unsafe { $token }, w, b, x, delta, step)
                }
                unsafe { run::<I, O>(view::of_mut(w), view::of_mut(b), view::of(x), view::of(delta), view::scalar(step)) }
            }

            #[inline(always)]
            unsafe fn gemm<T: Scalar, const I: usize, const O: usize>(w: &[[T; I]; O], b: &[T; O], xs: &[[T; I]], zs: &mut [[T; O]]) {
                #[target_feature(enable = $feature)]
                #[inline(never)]
                fn run<const I: usize, const O: usize>(w: &[[f32; I]; O], b: &[f32; O], xs: &[[f32; I]], zs: &mut [[f32; O]]) {
                    gemm(unsafe { $token }, w, b, xs, zs)
                }
                unsafe { run::<I, O>(view::of(w), view::of(b), view::rows(xs), view::rows_mut(zs)) }
            }

            #[inline(always)]
            unsafe fn gemm_t<T: Scalar, const I: usize, const O: usize>(w: &[[T; I]; O], deltas: &[[T; O]], dxs: &mut [[T; I]]) {
                #[target_feature(enable = $feature)]
                #[inline(never)]
                fn run<const I: usize, const O: usize>(w: &[[f32; I]; O], deltas: &[[f32; O]], dxs: &mut [[f32; I]]) {
                    backward::gemm_t(unsafe { $token }, w, deltas, dxs)
                }
                unsafe { run::<I, O>(view::of(w), view::rows(deltas), view::rows_mut(dxs)) }
            }

            outer::outer_methods!($token, $feature);
        }
    };
}

fma_backend!(
    /// The FMA kernels on 512-bit vectors, for CPUs with AVX-512F.
    Avx512Fma,
    "avx512f",
    Zmm::new()
);

fma_backend!(
    /// The FMA kernels on pairs of 256-bit vectors, for CPUs with AVX2 and FMA: the same bits as
    /// [`Avx512Fma`].
    Avx2Fma,
    "avx2,fma",
    YmmPair::new()
);
