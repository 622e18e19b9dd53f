//! The matrix kernels behind [`Dense`](crate::Dense): one sample (matrix-vector) and a tile of
//! samples (matrix-matrix), forward, backward and the fused SGD update.
//!
//! # Design
//!
//! The sizes of every matrix are const generics, so every loop has an exact trip count. The
//! exact kernels are written once over eight lanes of a scalar (`lanes::Lanes`): on `x86_64`
//! these are vectors written out with `core::arch` intrinsics (two SSE2 vectors, or one AVX
//! vector), elsewhere arrays that LLVM vectorises where it can. What makes them fast is the shape
//! of the loops, in the manner of `matrixmultiply` and `gemm`:
//!
//! - **Register blocking.** Every inner loop keeps a small tile of results in registers: 8 rows of
//!   `W x` (8 lanes each) forward; a block of 16 columns of `Wᵀ delta` backward; 2 samples by 4
//!   neurons forward on a batch; 6 by 16 for the batched outer products. That is 8 to 12
//!   independent accumulator vectors, enough to cover the latency of the adds with two vector
//!   pipes busy, while each value loaded from memory is used several times.
//! - **Fusion.** The SGD update of a layer happens in the same pass over `W` that computes
//!   `Wᵀ delta` (which reads the weights as they were), so a training step reads and writes `W`
//!   once in the backward pass, instead of once for the gradient and once more for the update.
//! - **Exact arithmetic, fixed order.** No fast-math and no fused multiply-add: each product is
//!   rounded, then added, in an order fixed by the sizes alone. So results do not depend on the
//!   CPU or on the instruction set chosen at run time: the portable build, the SSE2 and AVX
//!   vectors and a Cortex-M agree bit for bit (up to `exp` and friends from the platform's maths
//!   library with the `std` feature; tested). A core with separate multiply and add pipes (AMD
//!   Zen) reaches its FMA peak with `mul` + `add` anyway; a core with two 512-bit FMA units (Intel
//!   Golden Cove) does not, which is what the `fma` feature is for (BENCHMARKS.md has the figures).
//!   Every dot product, whatever the kernel, is computed the same way (8 lanes, lane `k` summing
//!   the indices `k mod 8` in order, then `((l0 + l4) + (l2 + l6)) + ((l1 + l5) + (l3 + l7))`),
//!   so a sample's output is the same alone or in a batch.
//! - **The `fma` feature (opt-in).** `f32` layers of at least [`FMA_MIN`] multiply-adds run
//!   kernels of fused multiply-adds in 16 lanes on CPUs with AVX-512F (one 512-bit vector), or
//!   else AVX2 and FMA (two 256-bit vectors), detected at run time with `std`: register tiles,
//!   aligned loads. Their order is fixed too, by the sizes alone (16 lanes, then a fixed tree), so
//!   a sample gives the same bits alone or in a batch, wherever the data lies in memory, and the
//!   same bits on either instruction set (tested); but not the bits of the exact kernels, nor of a
//!   CPU without FMA (which runs the exact kernels). `BACKPROP_FMA=avx2` in the environment makes
//!   a CPU with AVX-512F take the 256-bit path (for tests and benchmarks). `f64`, smaller layers,
//!   layers of fewer than [`FMA_MIN_INPUTS`] inputs and every other target keep the exact kernels.
//! - **Run-time choice.** With the `std` feature on `x86_64`, each exact kernel is also compiled
//!   with AVX2 enabled (`#[target_feature]`) on AVX vectors; a call of a kernel big enough to gain
//!   reads the CPU's features (`is_x86_feature_detected!`, detected once, then one cached load).
//!   A build with `-C target-cpu=...` that already has AVX2, and every `no_std` build, uses the
//!   kernels as compiled. Which backend runs a call is decided in one place, `backend::with_backend!`.
//! - **512-bit vectors where the order allows.** On CPUs with AVX-512F and DQ (detected at run
//!   time with `std`; `BACKPROP_EXACT=avx2` keeps them off, for tests and benchmarks), the batch
//!   kernels of `f32` layers run on 512-bit vectors, with the same bits: the outer products
//!   ([`gemm_outer`], [`gemm_outer_sgd`], [`rank_update`]), whose every lane is a column of its
//!   own summed over the samples in order, 16 columns per vector (`outer`); and `W x` on a batch
//!   ([`gemm`]), two samples per vector, 8 lanes each, so each dot product keeps its 8 lanes and
//!   its order (`pairs`). A core with two 512-bit FMA units has two ports for the multiplies and
//!   adds of either width, so the wider vectors double what the exact arithmetic can reach there:
//!   at most half its FMA peak (one multiply and one add per multiply-add), against a quarter on
//!   256 bits. The other kernels keep 8 lanes: their dot products are one sample's.
//! - **Rows with nothing to add.** A ReLU unit that was off has a zero error signal, and its row
//!   of the first layer gets `w + 0 · x`: [`sgd`] skips such rows when they are long enough for
//!   the read and write to cost more than a branch ([`SKIP_ZERO_ROWS`]).
//! - **Deferred updates.** [`rank_update`] applies the first layer's pending updates of
//!   `train_steps` (see [`deferred`](crate::deferred)): a tile of weights is loaded once, gets one
//!   product per pending sample in the samples' order, and is stored once. The bits are those of
//!   [`sgd`] once per sample, with one read and write of `W` for 16 samples instead of 16.
//!
//! Accumulators start at `-0.0`, the exact identity of floating-point addition, so lanes that a
//! small layer never uses are folded away by the compiler.
//!
//! # Code generation that does not depend on the profile
//!
//! The kernels are generic, so they are compiled in the user's crate, under the user's release
//! profile. Written as loops over arrays of 8 lanes, their speed depended on how LLVM vectorised
//! those loops, and that depended on the profile (issue 17, measured on `W x` of 784 × 128):
//!
//! - With cargo's default 16 codegen units, the outlined kernel reduced its tile through
//!   `array::map`, whose instance landed in another codegen unit and stayed a call: the loop over
//!   the inputs was vectorised along the rows, 8 lanes per vector, with 6 shuffles in all.
//! - With `codegen-units = 1` (or fat LTO) `map` was inlined, and the SLP vectoriser saw the
//!   reduction of 8 rows' accumulators as one more pattern to vectorise: it vectorised the tile
//!   across the rows instead, and the kernel got 1,220 shuffles (`vpermps`, `vunpck*`,
//!   `vinsertf128`), 4× slower (11.6 µs instead of 2.96 for the W4 forward pass; 32 µs with
//!   `-C target-cpu=native`).
//! - With `opt-level = "s"` LLVM does not vectorise loops at all.
//!
//! So on `x86_64` the lanes are vectors written out: each accumulator is an `__m256` (or two
//! `__m128`), each multiply and add one instruction, each reduction a fixed sequence of shuffles
//! and adds. LLVM has nothing left to choose but registers and scheduling, and no boundary (a
//! call it may or may not inline, a codegen unit) decides the code any more: the same instructions
//! in every profile, inlined or not, with or without LTO. The intrinsics are safe only where the
//! CPU has the instructions, so the AVX lanes exist as a token (`x86::Avx`) that only the
//! run-time check or a build with AVX enabled creates, and every vector function is
//! `#[inline(always)]`, so it takes the `#[target_feature]` of the kernel it is inlined into.
//!
//! Small layers had a cliff of their own at `opt-level = "s"`: their loops over rows and
//! neurons were `zip`s, and at that level LLVM keeps the standard library's `Zip` constructor and
//! its `size` helper as calls, two or three per loop (a fifth of the 2-2-1 network's inference).
//! Those loops index their constant-size arrays instead (see "Index loops" in
//! [`scalar`](crate::scalar)), which needs no helper in any profile.
//! `bench/profiles.sh` measures every workload in each of these profiles (BENCHMARKS.md).
//!
//! # Where things are
//!
//! The entry points below check their operands' lengths (in debug builds) and hand each call to
//! the backend that `backend::with_backend!` picks: `portable` (the exact kernels over `lanes`, inlined
//! into the caller or in a function of their own), `x86` (their SSE2 and AVX vectors, and the
//! backend that runs them compiled for AVX2, and `Avx512`, which runs `outer` and `pairs` on
//! 512-bit vectors), `fma` (the `fma` feature's kernels, whose 16 lanes are in `wide`, and whose
//! batched outer products are `outer`'s too). What more than one backend uses is in `common`. A new backend is a type implementing `backend::Backend`
//! and its branch in `backend`; new vectors for the exact kernels, a type implementing
//! `lanes::Lanes`.

// Loops over constant ranges with an index, rather than iterators with `enumerate`, are
// deliberate here: each index is provably in bounds even with overflow checks on (an
// `enumerate` counter is overflow-checked), which the no-panic test requires.
#![allow(clippy::needless_range_loop)]

use crate::Scalar;
use backend::{Backend as _, with_backend};
use common::Sgd;

mod backend;
mod common;
mod lanes;
mod portable;

#[cfg(all(feature = "fma", target_arch = "x86_64"))]
mod fma;
#[cfg(target_arch = "x86_64")]
mod outer;
#[cfg(target_arch = "x86_64")]
mod pairs;
#[cfg(target_arch = "x86_64")]
mod wide;
#[cfg(target_arch = "x86_64")]
mod x86;

#[cfg(test)]
mod tests;

// The CPU checks of `backend::with_backend!`, which the convolution kernels' choice shares.
/// Whether the FMA kernels run on AVX-512F here (not forced to AVX2 by `BACKPROP_FMA=avx2`).
#[cfg(all(feature = "fma", target_arch = "x86_64"))]
#[inline(always)]
pub(crate) fn avx512_available() -> bool {
    matches!(fma::path(), Some(fma::Path::Avx512))
}
#[cfg(all(feature = "std", target_arch = "x86_64", not(target_feature = "avx2")))]
pub(crate) use backend::has_avx2;
pub(crate) use portable::unroll;

/// Lanes of every dot product: eight `f32` fill one 256-bit vector.
pub const LANES: usize = 8;

/// Samples processed together by the batched kernels (see [`LayerBatch`](crate::layer::LayerBatch)):
/// the tile of a generated network unless its layers are too wide for it ([`batch_tile`]).
pub const BATCH_TILE: usize = 32;

/// Scalars a generated network's batch tiles may hold in all (`z`, `a` and `delta` of every layer
/// for every sample of a tile): 512 KiB in `f32`, 1 MiB in `f64`, on the stack during a batched
/// call. With a thread's 2 MiB (Rust's default for spawned threads), that leaves room for the
/// caller, the kernels' frames and the batch itself.
pub const TILE_SCALARS: usize = 128 * 1024;

/// The samples per tile of a network whose layers output `scalars` values per sample in all:
/// [`BATCH_TILE`], or fewer so that its tiles stay within [`TILE_SCALARS`] (a multiple of 4 from 4
/// up, the batched `W x` kernels' tile of samples; at least 1). The tile never changes a sample's
/// outputs (the same bits alone or in a batch); a batch's gradient is summed tile by tile, so
/// another tile may round it differently.
///
/// ```
/// use backprop_core::kernel::batch_tile;
/// assert_eq!(batch_tile(128 + 10), 32); // a 784-128-10 network keeps the full tile
/// // A LeNet: 16 × 24 × 24 + 16 × 12 × 12 + 32 × 8 × 8 + 32 × 4 × 4 + 128 + 10 per sample.
/// assert_eq!(batch_tile(14_218), 3);
/// assert_eq!(batch_tile(1 << 20), 1);
/// ```
pub const fn batch_tile(scalars: usize) -> usize {
    let fit = TILE_SCALARS / (3 * if scalars == 0 { 1 } else { scalars });
    if fit >= BATCH_TILE {
        BATCH_TILE
    } else if fit >= 4 {
        fit / 4 * 4
    } else if fit >= 1 {
        fit
    } else {
        1
    }
}

/// [`sgd`] leaves a row of at least this many inputs alone when its scaled error signal
/// `step · delta_o` is zero: a ReLU unit that was off, a saturated sigmoid, or a product that
/// underflows. Its update `w + 0 · x` would not change it (but for the sign of a `-0.0` weight, and
/// an infinite input, which the formula would turn into NaN), and skipping it saves the read and
/// write of the row. A row this long (1 KiB of `f32`) costs more to stream than a mispredicted
/// branch; shorter rows are updated whatever their signal, without a branch (BENCHMARKS.md, "Rows
/// with nothing to add").
pub const SKIP_ZERO_ROWS: usize = 256;

/// Kernels at least this big (multiply-adds) are compiled as functions of their own (and, with
/// run-time dispatch, worth the check of the CPU); smaller ones are inlined into their caller.
/// Outlined, a kernel's register tile compiles the same whatever the caller: inlined into a large
/// generated function, LLVM was seen to keep the tile in memory.
pub(crate) const OUTLINE_MIN: usize = 256;

/// Bytes of stack a batch kernel may spend on aligned copies of its inputs (the `fma` kernels'
/// and the 512-bit exact `W x`'s), so that a kernel's frame stays small whatever `I`.
#[cfg(target_arch = "x86_64")]
const PACK_MAX: usize = 64 * 1024;

/// With the `fma` feature, `f32` layers of at least this many multiply-adds per sample run the
/// FMA kernels on CPUs with AVX-512F or AVX2 and FMA (every kernel of the layer, one sample or a batch, so a layer
/// computes the same bits either way). Smaller layers keep the exact kernels: their time goes to
/// latency and reductions, not to the multiply-adds.
pub const FMA_MIN: usize = 4096;

/// With the `fma` feature, layers whose rows are shorter than this (fewer inputs than one 512-bit
/// vector holds) keep the exact kernels whatever their size: every row of theirs is a masked
/// vector and a 16-lane reduction, and on an Intel Xeon (Golden Cove) they ran several times
/// slower than the exact kernels.
pub const FMA_MIN_INPUTS: usize = 16;

/// `Σ a_i b_i`, as every kernel computes it (8 lanes, then a pairwise reduction).
#[inline]
pub fn dot<T: Scalar, const N: usize>(a: &[T; N], b: &[T; N]) -> T {
    affine_dot(-T::ZERO, a, b)
}

/// `bias + Σ a_i b_i`, exactly as every kernel computes a pre-activation `z = b + w · x` (the bias
/// joins lane 0 when `N < 8`, the reduced sum otherwise; see the kernel design above).
#[inline]
pub fn affine_dot<T: Scalar, const N: usize>(bias: T, a: &[T; N], b: &[T; N]) -> T {
    portable::affine_dot(bias, a, b)
}

/// `z = W x + b`: 8 rows at a time.
#[inline]
pub fn gemv<T: Scalar, const I: usize, const O: usize>(
    w: &[[T; I]; O],
    b: &[T; O],
    x: &[T; I],
    z: &mut [T; O],
) {
    with_backend!(T, I, O, I * O, B => B::gemv(w, b, x, z))
}

/// `dx = Wᵀ delta` and `grad = delta xᵀ` (`+=` when `accumulate`), in one pass over `W`, a block
/// of columns of `dx` in registers while the rows stream by.
#[inline]
pub fn backward<T: Scalar, const I: usize, const O: usize>(
    w: &[[T; I]; O],
    grad: &mut [[T; I]; O],
    x: &[T; I],
    delta: &[T; O],
    dx: &mut [T; I],
    accumulate: bool,
) {
    with_backend!(T, I, O, I * O, B => B::backward(w, grad, x, delta, dx, accumulate))
}

/// `dx = Wᵀ delta` with the weights as they are, then `W += step · delta xᵀ` (`step = -lr`), in
/// one pass over `W`.
#[inline]
pub fn backward_sgd<T: Scalar, const I: usize, const O: usize>(
    w: &mut [[T; I]; O],
    x: &[T; I],
    delta: &[T; O],
    step: T,
    dx: &mut [T; I],
) {
    with_backend!(T, I, O, I * O, B => B::backward_sgd(w, x, delta, step, dx))
}

/// `grad = delta xᵀ` (`+=` when `accumulate`), row by row: the first layer, which needs no `dx`.
#[inline]
pub fn outer<T: Scalar, const I: usize, const O: usize>(
    grad: &mut [[T; I]; O],
    x: &[T; I],
    delta: &[T; O],
    accumulate: bool,
) {
    with_backend!(T, I, O, I * O, B => B::outer(grad, x, delta, accumulate))
}

/// `W += step · delta xᵀ` and `b += step · delta` (`step = -lr`), row by row: the first layer's
/// SGD update. Rows of at least [`SKIP_ZERO_ROWS`] inputs whose `step · delta_o` is zero are left
/// as they are (see there), which the formula gives too but for the sign of a `-0.0` weight and
/// an infinite input. Each bias is updated with its row (`step · delta_o` is computed once for
/// both).
#[inline]
pub fn sgd<T: Scalar, const I: usize, const O: usize>(
    w: &mut [[T; I]; O],
    b: &mut [T; O],
    x: &[T; I],
    delta: &[T; O],
    step: T,
) {
    with_backend!(T, I, O, I * O, B => B::sgd(w, b, x, delta, step))
}

// ---------------------------------------------------------------------------------------------
// A tile of samples: matrix-matrix products. Samples are slices (at most `BATCH_TILE` of them),
// the layer's sizes are const generics. Each kernel's slices hold one entry per sample, so they
// must have the same length: only then does a kernel pair the `s`-th entries of each; otherwise
// it maps samples to the wrong outputs or drops some. Debug builds check the lengths; release
// builds do not, so that these hot calls compile to what they did before the check.

/// `zs[s] = W xs[s] + b` for every sample: tiles of 2 samples × 4 neurons, so each weight loaded
/// serves 2 samples and each input chunk 4 neurons. Each `zs[s]` equals [`gemv`] of `xs[s]`, bit
/// for bit.
///
/// `xs` and `zs` must have the same length (one output per sample; checked in debug builds).
#[inline]
pub fn gemm<T: Scalar, const I: usize, const O: usize>(
    w: &[[T; I]; O],
    b: &[T; O],
    xs: &[[T; I]],
    zs: &mut [[T; O]],
) {
    debug_assert_eq!(xs.len(), zs.len(), "kernel::gemm: one output per sample");
    with_backend!(T, I, O, I * O * 4, B => B::gemm(w, b, xs, zs))
}

/// `dxs[s] = Wᵀ deltas[s]` for every sample: tiles of 6 samples × 16 columns, summed over the
/// neurons in order (as [`backward`] does for one sample).
///
/// `deltas` and `dxs` must have the same length (one output per sample; checked in debug builds).
#[inline]
pub fn gemm_t<T: Scalar, const I: usize, const O: usize>(
    w: &[[T; I]; O],
    deltas: &[[T; O]],
    dxs: &mut [[T; I]],
) {
    debug_assert_eq!(deltas.len(), dxs.len(), "kernel::gemm_t: one output per sample");
    with_backend!(T, I, O, I * O * 4, B => B::gemm_t(w, deltas, dxs))
}

/// `grad += Σ_s deltas[s] xs[s]ᵀ`, `grad_b += Σ_s deltas[s]`: the batched outer products, in tiles
/// of 6 neurons × 16 columns summed over the samples in registers.
///
/// `xs` and `deltas` must have the same length (one error signal per sample; checked in debug
/// builds; in release builds the samples past the shorter one are left out).
#[inline]
pub fn gemm_outer<T: Scalar, const I: usize, const O: usize>(
    grad: &mut [[T; I]; O],
    grad_b: &mut [T; O],
    xs: &[[T; I]],
    deltas: &[[T; O]],
) {
    gemm_outer_sgd_opt(grad, grad_b, xs, deltas, None);
}

/// The mean gradient and the SGD step on it, fused: `grad = scale · Σ_s deltas[s] xs[s]ᵀ`,
/// `W -= lr · grad` (and the same for the biases), in one pass over `W`.
///
/// `xs` and `deltas` must have the same length, as for [`gemm_outer`].
#[inline]
#[allow(clippy::too_many_arguments)] // a kernel's operands
pub fn gemm_outer_sgd<T: Scalar, const I: usize, const O: usize>(
    w: &mut [[T; I]; O],
    b: &mut [T; O],
    grad: &mut [[T; I]; O],
    grad_b: &mut [T; O],
    xs: &[[T; I]],
    deltas: &[[T; O]],
    scale: T,
    lr: T,
) {
    gemm_outer_sgd_opt(grad, grad_b, xs, deltas, Some((w, b, scale, lr)));
}

#[inline]
fn gemm_outer_sgd_opt<T: Scalar, const I: usize, const O: usize>(
    grad: &mut [[T; I]; O],
    grad_b: &mut [T; O],
    xs: &[[T; I]],
    deltas: &[[T; O]],
    sgd: Option<Sgd<'_, T, I, O>>,
) {
    debug_assert_eq!(xs.len(), deltas.len(), "kernel::gemm_outer: one error signal per sample");
    with_backend!(T, I, O, I * O * 4, B => B::gemm_outer(grad, grad_b, xs, deltas, sgd))
}

/// `W += Σ_s steps[s] xs[s]ᵀ`, the samples one after another: every weight becomes
/// `(…((w + steps[0][o] · xs[0][i]) + steps[1][o] · xs[1][i]) + …)`, the products rounded and
/// added in the order of the samples. That is what [`sgd`] does to `W` once per sample with
/// `step · delta = steps[s]`, bit for bit, but `W` is read and written once for all of them
/// instead of once per sample: the deferred first-layer updates of
/// [`Deferred`](crate::deferred::Deferred). Tiles of 6 rows × 16 columns, each weight kept in a register
/// while the samples go by. (Rows whose step is zero for a sample are updated with their tile,
/// where [`sgd`] skips long ones: the same bits but for a `-0.0` weight and an infinite input, see
/// [`SKIP_ZERO_ROWS`]. One sample goes through [`sgd`] itself.)
///
/// `xs` and `steps` must have the same length (one step per sample; checked in debug builds; in
/// release builds the samples past the shorter one are left out).
///
/// ```
/// use backprop_core::kernel::{rank_update, sgd};
/// let (xs, steps) = ([[1.0f64, 2.0], [0.5, -1.0]], [[0.25], [-2.0]]);
/// let mut deferred = [[3.0, 4.0]];
/// rank_update(&mut deferred, &xs, &steps);
/// let (mut one_by_one, mut b) = ([[3.0, 4.0]], [0.0]);
/// for (x, step) in xs.iter().zip(&steps) {
///     sgd(&mut one_by_one, &mut b, x, step, 1.0);
/// }
/// assert_eq!(deferred, one_by_one);
/// ```
#[inline]
pub fn rank_update<T: Scalar, const I: usize, const O: usize>(
    w: &mut [[T; I]; O],
    xs: &[[T; I]],
    steps: &[[T; O]],
) {
    debug_assert_eq!(xs.len(), steps.len(), "kernel::rank_update: one step per sample");
    let n = xs.len().min(steps.len());
    let (xs, steps) = (&xs[..n], &steps[..n]);
    if let ([x], [step]) = (xs, steps) {
        // One pending step is an SGD step (`1 · step` is `step` exactly), rows with nothing to
        // add skipped: the last flush of a sequence, or a sequence of one sample.
        return sgd(w, &mut [T::ZERO; O], x, step, T::ONE);
    }
    with_backend!(T, I, O, I * O * 4, B => B::rank_update(w, xs, steps))
}
