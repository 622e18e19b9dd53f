//! The matrix kernels behind [`Dense`](crate::Dense): one sample (matrix-vector) and a tile of
//! samples (matrix-matrix), forward, backward and the fused SGD update.
//!
//! # Design
//!
//! The sizes of every matrix are const generics, so LLVM sees exact trip counts and the kernels
//! are written as plain Rust that it vectorises; the only intrinsics are the 8-lane reduction of
//! builds that enable AVX at compile time (see below), and they compute the same sums.
//! What makes them fast is the shape of the loops, in the manner of `matrixmultiply` and `gemm`:
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
//!   CPU or on the instruction set chosen at run time: the portable build, the AVX2 build and a
//!   Cortex-M agree bit for bit (up to `exp` and friends from the platform's maths library with
//!   the `std` feature). The cost is nil on AMD Zen, whose separate multiply and add pipes reach
//!   the FMA peak with `mul` + `add` (measured: 97% of it for a 784-128-10 batch step). On an
//!   Intel core with two 512-bit FMA units (Golden Cove), 256-bit `mul` + `add` is capped at 37.5%
//!   of the FMA peak (measured: 31–36%); FMA at 256 bits and AVX-512 copies of these kernels were
//!   measured there and gained nothing (BENCHMARKS.md). Every dot product, whatever the kernel,
//!   is computed the same way (8 lanes, lane `k` summing the indices `k mod 8` in order, then a
//!   fixed pairwise reduction), so a sample's output is the same alone or in a batch.
//! - **The `fma` feature (opt-in).** `f32` layers of at least [`FMA_MIN`] multiply-adds run
//!   kernels written for AVX-512F on CPUs that have it (detected at run time with `std`): one
//!   fused multiply-add of 16 lanes per multiply-add, register tiles of 512-bit vectors, aligned
//!   loads. Their order is fixed too, by the sizes alone (16 lanes, then a fixed tree), so a sample
//!   still gives the same bits alone or in a batch, wherever the data lies in memory; but not the
//!   bits of the exact kernels, nor of a CPU without AVX-512F (which runs the exact kernels). On
//!   the Golden Cove core above, the 784-128-10 batch step runs 2.3× faster (BENCHMARKS.md).
//!   `f64`, smaller layers, layers of fewer than [`FMA_MIN_INPUTS`] inputs and every other target
//!   keep the exact kernels. The feature needs Rust 1.89 (AVX-512 intrinsics).
//! - **Runtime dispatch.** With the `std` feature on `x86_64`, each kernel is also compiled with
//!   AVX2 enabled (`#[target_feature]`); a call of a kernel big enough to gain reads the CPU's
//!   features (`is_x86_feature_detected!`, detected once, then one cached load). A build with `-C target-cpu=...`
//!   that already has AVX2, and every `no_std` build, uses the kernels as compiled.
//! - **Reduction in registers.** An outlined kernel sums each accumulator's 8 lanes through
//!   `array::map`, which LLVM leaves out of line: the tile goes to the stack and back. Built with
//!   AVX-512 (`-C target-cpu=native` on a Xeon), that function reloaded the 256-bit stores with
//!   512-bit loads, which the store buffer cannot forward, and a 16-16 layer paid for it twice per
//!   256 multiply-adds (W5 inference 1.16× the hand-written loops). Where AVX is enabled at compile
//!   time, `f32` rows of at most 64 reduce in registers instead, with the same adds in the same
//!   order (halves, quarters, lanes; tested bit for bit): W5 inference 940 → 620 ns, W3 −17%. Longer
//!   rows keep `map`: there the in-register reduction made LLVM restructure the main loop (the
//!   784-128 batch step 1.9× slower), and its cost is amortised anyway.
//! - **Row updates written out.** The first layer's SGD update and gradient (`W += step · delta
//!   xᵀ`, one row after another) carry nothing from row to row; once a short row's loop was
//!   unrolled, LLVM vectorised the loop over the rows instead, with AVX-512 gathers and scatters.
//!   Where AVX is enabled at compile time, `f32` rows are therefore updated in 8-lane vectors
//!   written out, the same operations in the same order (tested bit for bit): a 16 × 16 update
//!   120 → 20 ns, 32 × 128 1.9 → 0.2 µs.
//!
//! - **Rows with nothing to add.** A ReLU unit that was off has a zero error signal, and its row
//!   of the first layer gets `w + 0 · x`: [`sgd`] skips such rows when they are long enough for
//!   the read and write to cost more than a branch ([`SKIP_ZERO_ROWS`]). For the 784-128-10
//!   network that is 42% of the rows, and a single-sample step 1.3–1.4× faster.
//!
//! - **Deferred updates.** [`rank_update`] applies the first layer's pending updates of
//!   `train_steps` (see [`deferred`](crate::deferred)): a tile of weights is loaded once, gets one
//!   product per pending sample in the samples' order, and is stored once. The bits are those of
//!   [`sgd`] once per sample, with one read and write of `W` for 16 samples instead of 16: a
//!   784-128-10 step 1.5× faster than one `train_step` with the `fma` feature (74% of the FMA
//!   peak on the Xeon above).
//!
//! Accumulators start at `-0.0`, the exact identity of floating-point addition, so lanes that a
//! small layer never uses are folded away by the compiler.

// Loops over constant ranges with an index, rather than iterators with `enumerate`, are
// deliberate here: each index is provably in bounds even with overflow checks on (an
// `enumerate` counter is overflow-checked), which the no-panic test requires.
#![allow(clippy::needless_range_loop)]

use crate::Scalar;

/// Lanes of every dot product: eight `f32` fill one 256-bit vector.
pub const LANES: usize = 8;

/// Samples processed together by the batched kernels (see [`LayerBatch`](crate::LayerBatch)).
pub const BATCH_TILE: usize = 32;

/// [`sgd`] leaves a row of at least this many inputs alone when its scaled error signal
/// `step · delta_o` is zero: a ReLU unit that was off, a saturated sigmoid, or a product that
/// underflows. Its update `w + 0 · x` would not change it (but for the sign of a `-0.0` weight, and
/// an infinite input, which the formula would turn into NaN), and skipping it saves the read and
/// write of the row. A row this long (1 KiB of `f32`) costs more to stream than a mispredicted
/// branch; shorter rows are updated whatever their signal, without a branch. Measured on the
/// 784-128-10 ReLU network, whose hidden error signal was zero for 42% of the units: one train
/// step 13.5 → 9.5 µs with the `fma` feature (native build), 16.2 → 12.1 µs without (default
/// build; BENCHMARKS.md, "Rows with nothing to add").
pub const SKIP_ZERO_ROWS: usize = 256;

/// Rows of `W x` computed together for one sample.
const GEMV_ROWS: usize = 8;
/// Columns of `Wᵀ delta` (and of the outer products) kept in registers.
const COLS: usize = 16;
/// Samples × neurons of the batched forward tile.
const TILE_SAMPLES: usize = 2;
const TILE_ROWS: usize = 4;
/// Rows (samples for `Wᵀ delta`, neurons for `delta xᵀ`) of the batched outer-product tile.
const OUTER_ROWS: usize = 6;

/// Kernels at least this big (multiply-adds) are compiled as functions of their own (and, with
/// run-time dispatch, worth the check of the CPU); smaller ones are inlined into their caller.
const OUTLINE_MIN: usize = 256;

/// With the `fma` feature, `f32` layers of at least this many multiply-adds per sample run the
/// FMA kernels on CPUs with AVX-512F (every kernel of the layer, one sample or a batch, so a layer
/// computes the same bits either way). Smaller layers keep the exact kernels: their time goes to
/// latency and reductions, not to the multiply-adds.
pub const FMA_MIN: usize = 4096;

/// With the `fma` feature, layers whose rows are shorter than this (fewer inputs than one 512-bit
/// vector holds) keep the exact kernels whatever their size: every row of theirs is a masked
/// vector and a 16-lane reduction, and on an Intel Xeon (Golden Cove) they ran slower than the
/// exact kernels (8 × 512: the fused backward step 4.5–4.9 µs against 0.37–0.40; 1 × 4096 `W x`
/// 2.2 µs against 0.23–0.39).
pub const FMA_MIN_INPUTS: usize = 16;

#[cfg(all(feature = "fma", target_arch = "x86_64"))]
mod fma;

/// `true` when the kernels of an `I × O` layer of `T` are the FMA ones (see [`FMA_MIN`] and
/// [`FMA_MIN_INPUTS`]): `T` is `f32`, the layer is big enough and its rows long enough, the `fma`
/// feature is on and the CPU has AVX-512F.
#[cfg(all(feature = "fma", target_arch = "x86_64"))]
#[inline(always)]
fn fused<T: Scalar, const I: usize, const O: usize>() -> bool {
    T::TAG == 4 && I * O >= FMA_MIN && I >= FMA_MIN_INPUTS && fma::available()
}

/// Views of `T` data as `f32` data, for the code that only `f32` takes: the FMA kernels and the
/// AVX reduction of short rows.
///
/// # Safety (every function)
///
/// `T` must be `f32`, which the callers check with `T::TAG == 4` (directly, or through [`fused`];
/// `Scalar` is sealed and only `f32` has the tag 4): then `A` and `B` are the same type but for
/// the name of the scalar, and nothing changes but the name.
#[cfg(all(target_arch = "x86_64", any(feature = "fma", target_feature = "avx")))]
#[cfg_attr(not(feature = "fma"), allow(dead_code))] // the AVX reduction needs `of` only
mod view {
    use crate::Scalar;

    #[inline(always)]
    pub(super) unsafe fn of<A, B>(a: &A) -> &B {
        debug_assert!(size_of::<A>() == size_of::<B>() && align_of::<A>() == align_of::<B>());
        // SAFETY: the module's contract.
        unsafe { &*(a as *const A).cast::<B>() }
    }

    #[inline(always)]
    pub(super) unsafe fn of_mut<A, B>(a: &mut A) -> &mut B {
        debug_assert!(size_of::<A>() == size_of::<B>() && align_of::<A>() == align_of::<B>());
        // SAFETY: the module's contract.
        unsafe { &mut *(a as *mut A).cast::<B>() }
    }

    #[inline(always)]
    pub(super) unsafe fn rows<T: Scalar, const N: usize>(a: &[[T; N]]) -> &[[f32; N]] {
        // SAFETY: the module's contract.
        unsafe { core::slice::from_raw_parts(a.as_ptr().cast(), a.len()) }
    }

    #[inline(always)]
    pub(super) unsafe fn rows_mut<T: Scalar, const N: usize>(a: &mut [[T; N]]) -> &mut [[f32; N]] {
        // SAFETY: the module's contract.
        unsafe { core::slice::from_raw_parts_mut(a.as_mut_ptr().cast(), a.len()) }
    }

    /// A scalar (exact: `T` is `f32`).
    #[inline(always)]
    pub(super) fn scalar<T: Scalar>(v: T) -> f32 {
        v.to_f64() as f32
    }
}

/// `true` when the kernels compiled for AVX2 may run (checked once, then cached by `std`).
#[cfg(all(feature = "std", target_arch = "x86_64", not(target_feature = "avx2")))]
#[inline(always)]
fn has_avx2() -> bool {
    std::is_x86_feature_detected!("avx2")
}

/// Calls `$imp::<generics>(args)`. A kernel of at least [`OUTLINE_MIN`] multiply-adds (`$work`)
/// runs as a function of its own, never inlined: its register tile then compiles the same
/// whatever the caller (inlined into a large generated function, LLVM was seen to keep the tile
/// in memory, 10× slower); with the `std` feature on `x86_64` without AVX2 enabled at compile
/// time, that function is the copy compiled for AVX2 when the CPU has it.
macro_rules! dispatch {
    ($work:expr, $imp:ident::<$($g:ident),*>($($arg:ident: $ty:ty),* $(,)?)) => {{
        #[inline(never)]
        fn outlined<T: Scalar, $(const $g: usize),*>($($arg: $ty),*) {
            $imp::<T, $($g),*>($($arg),*)
        }
        #[cfg(all(feature = "std", target_arch = "x86_64", not(target_feature = "avx2")))]
        {
            #[target_feature(enable = "avx2")]
            fn with_avx2<T: Scalar, $(const $g: usize),*>($($arg: $ty),*) {
                $imp::<T, $($g),*>($($arg),*)
            }
            if $work >= OUTLINE_MIN && has_avx2() {
                // SAFETY: the CPU supports AVX2, checked just above.
                return unsafe { with_avx2::<T, $($g),*>($($arg),*) };
            }
        }
        if $work >= OUTLINE_MIN {
            return outlined::<T, $($g),*>($($arg),*);
        }
        $imp::<T, $($g),*>($($arg),*)
    }};
}

/// `for $v in 0..$n { $body }`, unrolled: one copy of the body per index of the list (at least
/// `$n` of them), each with `$v` a constant and guarded by `$v < $n`, which the compiler folds.
/// LLVM does not unroll loops whose bodies are as large as a register tile, and a tile left in a
/// loop is a tile in memory; with constant indices the tile lives in registers.
macro_rules! unroll {
    ($v:ident < $n:expr, [$($i:literal)*], $body:block) => {
        const { assert!($n <= [$($i),*].len()) };
        $(
            if $i < $n {
                #[allow(non_upper_case_globals, clippy::identity_op)]
                let $v: usize = $i;
                $body
            }
        )*
    };
}

/// Sum of the 8 lanes of an accumulator in a fixed order, `lane(k)` giving lane `k`, for dot
/// products of length `I`.
///
/// When `I < LANES`, lanes `I..` would hold only their starting `-0.0`. Adding `-0.0` is exact for
/// every value (`+0 + -0 = +0`), so those lanes are left out: the sum is the same bit for bit.
#[inline(always)]
fn reduce<T: Scalar, const I: usize>(lane: impl Fn(usize) -> T) -> T {
    #[inline(always)]
    fn add<T: Scalar>(a: Option<T>, b: Option<T>) -> Option<T> {
        match (a, b) {
            (Some(a), Some(b)) => Some(a + b),
            (a, None) => a,
            (None, b) => b,
        }
    }
    let lane = |k: usize| if k < I { Some(lane(k)) } else { None };
    let sum = add(
        add(add(lane(0), lane(4)), add(lane(2), lane(6))),
        add(add(lane(1), lane(5)), add(lane(3), lane(7))),
    );
    sum.unwrap_or(-T::ZERO)
}

/// The affine maps of `S` vectors by `R` rows, `out[s][r] = bias[r] + xs[s] · rows[r]`, each dot
/// product in 8 lanes (`S ≤ 4`, `R ≤ 8`): a tile of `S · R` accumulator vectors, reduced, then
/// added to the bias. A plain dot product has the bias `-0.0`, the identity of addition.
///
/// Below one chunk (`I < 8`), the bias instead joins lane 0's one product, `(b + w_0 x_0) + …`, so
/// that it does not wait for the reduction: the 2-2-1 forward pass is then one add shorter per
/// layer, as short as the hand-written `b + w_0 x_0 + w_1 x_1` (same instructions, checked). From
/// one chunk on, putting the bias in lane 0 made LLVM assemble it across the rows of the tile,
/// and the 16-16 layers of W5 ran 1.5–1.9× slower, so there it comes after the reduction. Either
/// way the order depends on `I` alone, so one sample gives the same bits alone or in a batch.
#[inline(always)]
fn dot_tile<T: Scalar, const I: usize, const S: usize, const R: usize>(
    xs: &[[T; I]; S],
    rows: &[[T; I]; R],
    bias: &[T; R],
    inlined: bool,
) -> [[T; R]; S] {
    // Shorter than one chunk: each lane holds one product (`-0.0 + w_k x_k` is `w_k x_k` exactly),
    // so the products go straight into the reduction, with no accumulator array. On a core
    // without SIMD (Cortex-M), LLVM kept that array in memory and stored eight `-0.0`s per neuron
    // before using two of them (seen: the 2-4-1 firmware's forward pass 25% longer).
    if I < LANES {
        let mut out = [[T::ZERO; R]; S];
        unroll!(s < S, [0 1 2 3], {
            unroll!(r < R, [0 1 2 3 4 5 6 7], {
                out[s][r] = reduce::<T, I>(|k| {
                    let product = rows[r][k] * xs[s][k];
                    if k == 0 { bias[r] + product } else { product }
                });
            });
        });
        return out;
    }
    let mut acc = [[[-T::ZERO; LANES]; R]; S];
    // Chunks are taken from each array where they are used (not kept in an array of slices), so
    // that their lengths stay constants and no index needs a check.
    for c in 0..I / LANES {
        unroll!(s < S, [0 1 2 3], {
            let x = &xs[s].as_chunks::<LANES>().0[c];
            unroll!(r < R, [0 1 2 3 4 5 6 7], {
                let w = &rows[r].as_chunks::<LANES>().0[c];
                for k in 0..LANES {
                    acc[s][r][k] += w[k] * x[k];
                }
            });
        });
    }
    if !I.is_multiple_of(LANES) {
        // The elements past the last chunk, as one more chunk padded with products of exactly
        // `-0.0` (a weight of `-0.0` times an input of `+0.0`), which leave every lane's sum as it
        // is, whatever it is: the same loop as a whole chunk's. Added element by element, each
        // went into its lane of the accumulators on its own (a 50 × 32 `W x`: 304–314 → 172–175
        // ns, native build).
        unroll!(s < S, [0 1 2 3], {
            let tail = xs[s].as_chunks::<LANES>().1;
            let x: [T; LANES] = core::array::from_fn(|k| if k < I % LANES { tail[k] } else { T::ZERO });
            unroll!(r < R, [0 1 2 3 4 5 6 7], {
                let tail = rows[r].as_chunks::<LANES>().1;
                let w: [T; LANES] = core::array::from_fn(|k| if k < I % LANES { tail[k] } else { -T::ZERO });
                for k in 0..LANES {
                    acc[s][r][k] += w[k] * x[k];
                }
            });
        });
    }
    // The reduction, the same either way. In a small kernel (`inlined` into its caller, see
    // `OUTLINE_MIN`), the tile reduces with plain unrolled code: `array::map` goes through closures that
    // LLVM does not always inline into a large caller (seen: three out-of-line calls in a 2-2-1
    // training step, a quarter of its time). A large one (in a function of its own) uses `map`,
    // whose stores LLVM does not bundle across rows: unrolled, they led it to vectorise the main
    // loop across rows too, with gathers (seen: the 784-128 forward pass 3× slower).
    if inlined {
        let mut out = [[T::ZERO; R]; S];
        unroll!(s < S, [0 1 2 3], {
            unroll!(r < R, [0 1 2 3 4 5 6 7], {
                out[s][r] = bias[r] + reduce::<T, I>(|k| acc[s][r][k]);
            });
        });
        out
    } else {
        // In registers with AVX, for short rows (see "Reduction in registers" above).
        #[cfg(all(target_arch = "x86_64", target_feature = "avx"))]
        if T::TAG == 4 && I <= AVX_REDUCE_MAX {
            // SAFETY: `T` is `f32` (its tag is 4), as `view` requires.
            let acc: &[[[f32; LANES]; R]; S] = unsafe { view::of(&acc) };
            let mut out = [[T::ZERO; R]; S];
            for s in 0..S {
                for r in 0..R {
                    out[s][r] = bias[r] + T::from_f64(f64::from(x86::reduce8(&acc[s][r])));
                }
            }
            return out;
        }
        let mut out = acc.map(|per_sample| per_sample.map(|lanes| reduce::<T, I>(|k| lanes[k])));
        for out in &mut out {
            for (z, &b) in out.iter_mut().zip(bias) {
                *z = b + *z;
            }
        }
        out
    }
}

/// Rows at most this long reduce their tile with [`x86::reduce8`] in builds with AVX.
#[cfg(all(target_arch = "x86_64", target_feature = "avx"))]
const AVX_REDUCE_MAX: usize = 8 * LANES;

/// The 8-lane reduction of an `f32` accumulator and the row update of [`whole_row`], with AVX
/// instructions, for builds that enable AVX at compile time (`-C target-cpu=...`).
#[cfg(all(target_arch = "x86_64", target_feature = "avx"))]
mod x86 {
    use core::arch::x86_64::*;

    /// [`outer_row`](super::outer_row): `g = d · x`, or `g += d · x` (`g + (d · x)`, rounded
    /// twice, as the portable loop), 8 lanes at a time, the rest one by one.
    #[inline(always)]
    pub(super) fn row<const N: usize>(accumulate: bool, d: f32, x: &[f32; N], g: &mut [f32; N]) {
        let (x_chunks, x_rest) = x.as_chunks::<8>();
        let (g_chunks, g_rest) = g.as_chunks_mut::<8>();
        // SAFETY: AVX is enabled for the whole build (cfg above); every load and store is of one
        // whole chunk of 8 `f32`s.
        unsafe {
            let d8 = _mm256_set1_ps(d);
            for (g, x) in g_chunks.iter_mut().zip(x_chunks) {
                let product = _mm256_mul_ps(d8, _mm256_loadu_ps(x.as_ptr()));
                let value =
                    if accumulate { _mm256_add_ps(_mm256_loadu_ps(g.as_ptr()), product) } else { product };
                _mm256_storeu_ps(g.as_mut_ptr(), value);
            }
        }
        for (g, &x) in g_rest.iter_mut().zip(x_rest) {
            *g = if accumulate { *g + d * x } else { d * x };
        }
    }

    /// [`reduce`](super::reduce) of 8 lanes, in its order: `((l0 + l4) + (l2 + l6)) + ((l1 + l5) +
    /// (l3 + l7))`, as adds of the two halves, then of the two quarters, then of the two lanes.
    #[inline(always)]
    pub(super) fn reduce8(lanes: &[f32; 8]) -> f32 {
        // SAFETY: AVX (and so SSE) is enabled for the whole build (cfg above), and `lanes` is 8
        // readable `f32`s.
        unsafe {
            let v = _mm256_loadu_ps(lanes.as_ptr());
            // (l0 + l4, l1 + l5, l2 + l6, l3 + l7)
            let halves = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps::<1>(v));
            // ((l0 + l4) + (l2 + l6), (l1 + l5) + (l3 + l7), ..)
            let quarters = _mm_add_ps(halves, _mm_movehl_ps(halves, halves));
            _mm_cvtss_f32(_mm_add_ss(quarters, _mm_shuffle_ps::<1>(quarters, quarters)))
        }
    }
}

/// `Σ a_i b_i`, as every kernel computes it (8 lanes, then a pairwise reduction).
#[inline]
pub fn dot<T: Scalar, const N: usize>(a: &[T; N], b: &[T; N]) -> T {
    affine_dot(-T::ZERO, a, b)
}

/// `bias + Σ a_i b_i`, exactly as every kernel computes a pre-activation `z = b + w · x` (the bias
/// joins lane 0 when `N < 8`, the reduced sum otherwise; see the kernel design above).
#[inline]
pub fn affine_dot<T: Scalar, const N: usize>(bias: T, a: &[T; N], b: &[T; N]) -> T {
    dot_tile::<T, N, 1, 1>(core::array::from_ref(a), core::array::from_ref(b), &[bias], N < OUTLINE_MIN)[0][0]
}

/// `z = W x + b`: 8 rows at a time.
#[inline]
pub fn gemv<T: Scalar, const I: usize, const O: usize>(
    w: &[[T; I]; O],
    b: &[T; O],
    x: &[T; I],
    z: &mut [T; O],
) {
    #[cfg(all(feature = "fma", target_arch = "x86_64"))]
    if fused::<T, I, O>() {
        // SAFETY: `fused` holds: `T` is `f32` and the CPU has AVX-512F.
        return unsafe { fma::gemv::<I, O>(view::of(w), view::of(b), view::of(x), view::of_mut(z)) };
    }
    dispatch!(I * O, gemv_impl::<I, O>(w: &[[T; I]; O], b: &[T; O], x: &[T; I], z: &mut [T; O]))
}

#[inline(always)]
fn gemv_impl<T: Scalar, const I: usize, const O: usize>(
    w: &[[T; I]; O],
    b: &[T; O],
    x: &[T; I],
    z: &mut [T; O],
) {
    let (w_blocks, w_rest) = w.as_chunks::<GEMV_ROWS>();
    let (b_blocks, b_rest) = b.as_chunks::<GEMV_ROWS>();
    let (z_blocks, z_rest) = z.as_chunks_mut::<GEMV_ROWS>();
    for ((w, b), z) in w_blocks.iter().zip(b_blocks).zip(z_blocks) {
        [*z] = dot_tile::<T, I, 1, GEMV_ROWS>(core::array::from_ref(x), w, b, I * O < OUTLINE_MIN);
    }
    for ((w, b), z) in w_rest.iter().zip(b_rest).zip(z_rest) {
        *z = dot_tile::<T, I, 1, 1>(
            core::array::from_ref(x),
            core::array::from_ref(w),
            core::array::from_ref(b),
            I * O < OUTLINE_MIN,
        )[0][0];
    }
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
    #[cfg(all(feature = "fma", target_arch = "x86_64"))]
    if fused::<T, I, O>() {
        // SAFETY: `fused` holds: `T` is `f32` and the CPU has AVX-512F.
        return unsafe {
            fma::backward::<I, O>(
                view::of(w),
                view::of_mut(grad),
                view::of(x),
                view::of(delta),
                view::of_mut(dx),
                accumulate,
            )
        };
    }
    dispatch!(I * O, backward_impl::<I, O>(
        w: &[[T; I]; O], grad: &mut [[T; I]; O], x: &[T; I], delta: &[T; O], dx: &mut [T; I], accumulate: bool
    ))
}

#[inline(always)]
fn backward_impl<T: Scalar, const I: usize, const O: usize>(
    w: &[[T; I]; O],
    grad: &mut [[T; I]; O],
    x: &[T; I],
    delta: &[T; O],
    dx: &mut [T; I],
    accumulate: bool,
) {
    // Loops over constant ranges, and chunks taken from each array where they are used: every
    // index is provably in bounds, with or without overflow checks (see the no-panic test).
    for c in 0..I / COLS {
        let x = &x.as_chunks::<COLS>().0[c];
        let mut acc = [-T::ZERO; COLS];
        for ((w, g), &d) in w.iter().zip(grad.iter_mut()).zip(delta) {
            let w = &w.as_chunks::<COLS>().0[c];
            for k in 0..COLS {
                acc[k] += d * w[k];
            }
            outer_row(accumulate, d, x, &mut g.as_chunks_mut::<COLS>().0[c]);
        }
        dx.as_chunks_mut::<COLS>().0[c] = acc;
    }
    if !I.is_multiple_of(COLS) {
        // The columns past the last full chunk, all at once, rows outer (see `backward_sgd_impl`).
        let x = x.as_chunks::<COLS>().1;
        let mut acc = [-T::ZERO; COLS];
        for ((w, g), &d) in w.iter().zip(grad.iter_mut()).zip(delta) {
            let (w, g) = (w.as_chunks::<COLS>().1, g.as_chunks_mut::<COLS>().1);
            for k in 0..I % COLS {
                acc[k] += d * w[k];
                g[k] = if accumulate { g[k] + d * x[k] } else { d * x[k] };
            }
        }
        for (dx, acc) in dx.as_chunks_mut::<COLS>().1.iter_mut().zip(acc) {
            *dx = acc;
        }
    }
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
    #[cfg(all(feature = "fma", target_arch = "x86_64"))]
    if fused::<T, I, O>() {
        // SAFETY: `fused` holds: `T` is `f32` and the CPU has AVX-512F.
        return unsafe {
            fma::backward_sgd::<I, O>(
                view::of_mut(w),
                view::of(x),
                view::of(delta),
                view::scalar(step),
                view::of_mut(dx),
            )
        };
    }
    dispatch!(I * O, backward_sgd_impl::<I, O>(
        w: &mut [[T; I]; O], x: &[T; I], delta: &[T; O], step: T, dx: &mut [T; I]
    ))
}

#[inline(always)]
fn backward_sgd_impl<T: Scalar, const I: usize, const O: usize>(
    w: &mut [[T; I]; O],
    x: &[T; I],
    delta: &[T; O],
    step: T,
    dx: &mut [T; I],
) {
    for c in 0..I / COLS {
        let x = &x.as_chunks::<COLS>().0[c];
        let mut acc = [-T::ZERO; COLS];
        for (w, &d) in w.iter_mut().zip(delta) {
            let w = &mut w.as_chunks_mut::<COLS>().0[c];
            let scaled = step * d;
            for k in 0..COLS {
                acc[k] += d * w[k];
                w[k] += scaled * x[k];
            }
        }
        dx.as_chunks_mut::<COLS>().0[c] = acc;
    }
    if !I.is_multiple_of(COLS) {
        // The columns past the last full chunk, all at once: rows outer, one accumulator per
        // column, each summed over the rows in order as before. A loop per column instead read
        // every row once per column, and each column's sum was one chain of dependent adds:
        // 406 ns for the 1,536 multiply-adds of a 24 × 64 layer, now 134 (`kernel_tails` bench).
        let x = x.as_chunks::<COLS>().1;
        let mut acc = [-T::ZERO; COLS];
        for (w, &d) in w.iter_mut().zip(delta) {
            let w = w.as_chunks_mut::<COLS>().1;
            let scaled = step * d;
            for k in 0..I % COLS {
                acc[k] += d * w[k];
                w[k] += scaled * x[k];
            }
        }
        for (dx, acc) in dx.as_chunks_mut::<COLS>().1.iter_mut().zip(acc) {
            *dx = acc;
        }
    }
}

/// `grad = delta xᵀ` (`+=` when `accumulate`), row by row: the first layer, which needs no `dx`.
#[inline]
pub fn outer<T: Scalar, const I: usize, const O: usize>(
    grad: &mut [[T; I]; O],
    x: &[T; I],
    delta: &[T; O],
    accumulate: bool,
) {
    #[cfg(all(feature = "fma", target_arch = "x86_64"))]
    if fused::<T, I, O>() {
        // SAFETY: `fused` holds: `T` is `f32` and the CPU has AVX-512F.
        return unsafe { fma::outer::<I, O>(view::of_mut(grad), view::of(x), view::of(delta), accumulate) };
    }
    dispatch!(I * O, outer_impl::<I, O>(grad: &mut [[T; I]; O], x: &[T; I], delta: &[T; O], accumulate: bool))
}

#[inline(always)]
fn outer_impl<T: Scalar, const I: usize, const O: usize>(
    grad: &mut [[T; I]; O],
    x: &[T; I],
    delta: &[T; O],
    accumulate: bool,
) {
    for (g, &d) in grad.iter_mut().zip(delta) {
        whole_row(accumulate, d, x, g);
    }
}

/// `W += step · delta xᵀ` and `b += step · delta` (`step = -lr`), row by row: the first layer's
/// SGD update. Rows of at least [`SKIP_ZERO_ROWS`] inputs whose `step · delta_o` is zero are left
/// as they are (see there), which the formula gives too but for the sign of a `-0.0` weight and
/// an infinite input.
///
/// Each bias is updated with its row (`step · delta_o` is computed once for both): in the 2-2-1
/// training step, a separate loop over the biases left LLVM a longer chain of shuffles to merge
/// all the updates into one vector store (measured: 45.4 → 43.5 ns per step, native build).
#[inline]
pub fn sgd<T: Scalar, const I: usize, const O: usize>(
    w: &mut [[T; I]; O],
    b: &mut [T; O],
    x: &[T; I],
    delta: &[T; O],
    step: T,
) {
    #[cfg(all(feature = "fma", target_arch = "x86_64"))]
    if fused::<T, I, O>() {
        // SAFETY: `fused` holds: `T` is `f32` and the CPU has AVX-512F.
        return unsafe {
            fma::sgd::<I, O>(
                view::of_mut(w),
                view::of_mut(b),
                view::of(x),
                view::of(delta),
                view::scalar(step),
            )
        };
    }
    dispatch!(I * O, sgd_impl::<I, O>(w: &mut [[T; I]; O], b: &mut [T; O], x: &[T; I], delta: &[T; O], step: T))
}

#[inline(always)]
fn sgd_impl<T: Scalar, const I: usize, const O: usize>(
    w: &mut [[T; I]; O],
    b: &mut [T; O],
    x: &[T; I],
    delta: &[T; O],
    step: T,
) {
    for_rows_to_update(w, b, delta, step, |w, b, scaled| {
        whole_row(true, scaled, x, w);
        *b += scaled;
    });
}

/// Calls `update(row, bias, step · delta_o)` for the rows an SGD step changes, the policy of both
/// [`sgd`] kernels (exact and FMA): rows of at least [`SKIP_ZERO_ROWS`] inputs last to first (the
/// forward pass read the last rows last, so they may still be in L1), skipping those whose scaled
/// signal is zero; shorter rows all, in order, without a branch.
#[inline(always)]
fn for_rows_to_update<T: Scalar, const I: usize, const O: usize>(
    w: &mut [[T; I]; O],
    b: &mut [T; O],
    delta: &[T; O],
    step: T,
    mut update: impl FnMut(&mut [T; I], &mut T, T),
) {
    let rows = w.iter_mut().zip(b).zip(delta);
    if I >= SKIP_ZERO_ROWS {
        for ((w, b), &d) in rows.rev() {
            let scaled = step * d;
            if scaled != T::ZERO {
                update(w, b, scaled);
            }
        }
    } else {
        for ((w, b), &d) in rows {
            update(w, b, step * d);
        }
    }
}

/// [`outer_row`] over a whole row, in the row-by-row kernels ([`outer`], [`sgd`]). With AVX enabled
/// at compile time, `f32` rows go through `x86::row`, in 8-lane vectors written out: there is
/// nothing carried from one row to the next in these loops, and once a short row's loop was
/// unrolled, LLVM vectorised the loop over the rows instead, with AVX-512 gathers and scatters
/// of the weights (native build: a 16 × 16 update 121 ns against 19 in the default build,
/// 32 × 128 1.7 µs against 0.2). The same operations in the same order: the same bits.
#[inline(always)]
fn whole_row<T: Scalar, const N: usize>(accumulate: bool, d: T, x: &[T; N], g: &mut [T; N]) {
    #[cfg(all(target_arch = "x86_64", target_feature = "avx"))]
    if T::TAG == 4 {
        // SAFETY: `T` is `f32` (its tag is 4), as `view` requires.
        let (x, g): (&[f32; N], &mut [f32; N]) = unsafe { (view::of(x), view::of_mut(g)) };
        return x86::row(accumulate, view::scalar(d), x, g);
    }
    outer_row(accumulate, d, x, g);
}

/// `g = d · x`, or `g += d · x`.
#[inline(always)]
fn outer_row<T: Scalar, const N: usize>(accumulate: bool, d: T, x: &[T; N], g: &mut [T; N]) {
    if accumulate {
        for (g, &x) in g.iter_mut().zip(x) {
            *g += d * x;
        }
    } else {
        for (g, &x) in g.iter_mut().zip(x) {
            *g = d * x;
        }
    }
}

// ---------------------------------------------------------------------------------------------
// A tile of samples: matrix-matrix products. Samples are slices (at most `BATCH_TILE` of them),
// the layer's sizes are const generics.

/// `zs[s] = W xs[s] + b` for every sample: tiles of 2 samples × 4 neurons, so each weight loaded
/// serves 2 samples and each input chunk 4 neurons. Of the shapes measured (4×3, 3×4, 2×6, 1×8,
/// and a BLAS-style packed panel of `Wᵀ`, whose packing cost more than it saved), this one
/// vectorises best. Each `zs[s]` equals [`gemv`] of `xs[s]`, bit for bit.
#[inline]
pub fn gemm<T: Scalar, const I: usize, const O: usize>(
    w: &[[T; I]; O],
    b: &[T; O],
    xs: &[[T; I]],
    zs: &mut [[T; O]],
) {
    #[cfg(all(feature = "fma", target_arch = "x86_64"))]
    if fused::<T, I, O>() {
        // SAFETY: `fused` holds: `T` is `f32` and the CPU has AVX-512F.
        return unsafe { fma::gemm::<I, O>(view::of(w), view::of(b), view::rows(xs), view::rows_mut(zs)) };
    }
    dispatch!(I * O * 4, gemm_impl::<I, O>(w: &[[T; I]; O], b: &[T; O], xs: &[[T; I]], zs: &mut [[T; O]]))
}

#[inline(always)]
fn gemm_impl<T: Scalar, const I: usize, const O: usize>(
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
            let d = dot_tile::<T, I, TILE_SAMPLES, TILE_ROWS>(x, w, b, I * O * 4 < OUTLINE_MIN);
            for (z, d) in z.iter_mut().zip(d) {
                z.as_chunks_mut::<TILE_ROWS>().0[j] = d;
            }
        }
        for r in 0..O % TILE_ROWS {
            let w = &w.as_chunks::<TILE_ROWS>().1[r];
            let b = &b.as_chunks::<TILE_ROWS>().1[r];
            let d = dot_tile::<T, I, TILE_SAMPLES, 1>(
                x,
                core::array::from_ref(w),
                core::array::from_ref(b),
                I * O * 4 < OUTLINE_MIN,
            );
            for (z, [d]) in z.iter_mut().zip(d) {
                z.as_chunks_mut::<TILE_ROWS>().1[r] = d;
            }
        }
    }
    for (x, z) in x_rest.iter().zip(z_rest) {
        gemv_impl(w, b, x, z);
    }
}

/// `dxs[s] = Wᵀ deltas[s]` for every sample: tiles of 6 samples × 16 columns, summed over the
/// neurons in order (as [`backward`] does for one sample).
#[inline]
pub fn gemm_t<T: Scalar, const I: usize, const O: usize>(
    w: &[[T; I]; O],
    deltas: &[[T; O]],
    dxs: &mut [[T; I]],
) {
    #[cfg(all(feature = "fma", target_arch = "x86_64"))]
    if fused::<T, I, O>() {
        // SAFETY: `fused` holds: `T` is `f32` and the CPU has AVX-512F.
        return unsafe { fma::gemm_t::<I, O>(view::of(w), view::rows(deltas), view::rows_mut(dxs)) };
    }
    dispatch!(I * O * 4, gemm_t_impl::<I, O>(w: &[[T; I]; O], deltas: &[[T; O]], dxs: &mut [[T; I]]))
}

#[inline(always)]
fn gemm_t_impl<T: Scalar, const I: usize, const O: usize>(
    w: &[[T; I]; O],
    deltas: &[[T; O]],
    dxs: &mut [[T; I]],
) {
    let (d_tiles, d_rest) = deltas.as_chunks::<OUTER_ROWS>();
    let (dx_tiles, dx_rest) = dxs.as_chunks_mut::<OUTER_ROWS>();
    for (d, dx) in d_tiles.iter().zip(dx_tiles.iter_mut()) {
        gemm_t_tile::<T, I, O, OUTER_ROWS>(w, d, dx);
    }
    for (d, dx) in d_rest.iter().zip(dx_rest) {
        gemm_t_tile::<T, I, O, 1>(w, core::array::from_ref(d), core::array::from_mut(dx));
    }
}

#[inline(always)]
fn gemm_t_tile<T: Scalar, const I: usize, const O: usize, const S: usize>(
    w: &[[T; I]; O],
    deltas: &[[T; O]; S],
    dxs: &mut [[T; I]; S],
) {
    for c in 0..I / COLS {
        let mut acc = [[-T::ZERO; COLS]; S];
        for o in 0..O {
            let w = &w[o].as_chunks::<COLS>().0[c];
            unroll!(s < S, [0 1 2 3 4 5], {
                let d = deltas[s][o];
                for k in 0..COLS {
                    acc[s][k] += d * w[k];
                }
            });
        }
        for (dx, acc) in dxs.iter_mut().zip(acc) {
            dx.as_chunks_mut::<COLS>().0[c] = acc;
        }
    }
    if !I.is_multiple_of(COLS) {
        // The columns past the last full chunk, all at once, rows outer (see `backward_sgd_impl`).
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

/// The SGD part of [`gemm_outer_impl`]: the layer's weights and biases, `1 / samples`, and the
/// learning rate.
type Sgd<'a, T, const I: usize, const O: usize> = (&'a mut [[T; I]; O], &'a mut [T; O], T, T);

/// `grad += Σ_s deltas[s] xs[s]ᵀ`, `grad_b += Σ_s deltas[s]`: the batched outer products, in tiles
/// of 6 neurons × 16 columns summed over the samples in registers.
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
    #[cfg(all(feature = "fma", target_arch = "x86_64"))]
    if fused::<T, I, O>() {
        let n = xs.len().min(deltas.len());
        let (xs, deltas) = (&xs[..n], &deltas[..n]);
        let (weights, biases) = match sgd {
            Some((w, b, scale, lr)) => (Some((w, scale, lr)), Some((b, scale, lr))),
            None => (None, None),
        };
        // SAFETY: `fused` holds: `T` is `f32` and the CPU has AVX-512F.
        unsafe {
            let weights =
                weights.map(|(w, scale, lr)| (view::of_mut(w), view::scalar(scale), view::scalar(lr)));
            fma::gemm_outer::<I, O>(view::of_mut(grad), weights, view::rows(xs), view::rows(deltas));
        }
        return outer_bias(grad_b, deltas, biases);
    }
    dispatch!(I * O * 4, gemm_outer_impl::<I, O>(
        grad: &mut [[T; I]; O], grad_b: &mut [T; O], xs: &[[T; I]], deltas: &[[T; O]], sgd: Option<Sgd<'_, T, I, O>>
    ))
}

#[inline(always)]
fn gemm_outer_impl<T: Scalar, const I: usize, const O: usize>(
    grad: &mut [[T; I]; O],
    grad_b: &mut [T; O],
    xs: &[[T; I]],
    deltas: &[[T; O]],
    sgd: Option<Sgd<'_, T, I, O>>,
) {
    let n = xs.len().min(deltas.len());
    let (xs, deltas) = (&xs[..n], &deltas[..n]);
    // A tile's error signals are picked from each sample's `delta` by a constant index: the
    // `j`-th chunk of 6 neurons, or the `r`-th neuron past the last whole chunk.
    match sgd {
        None => {
            for j in 0..O / OUTER_ROWS {
                let g = &mut grad.as_chunks_mut::<OUTER_ROWS>().0[j];
                outer_tile(g, None, xs, deltas, |d: &[T; O]| d.as_chunks::<OUTER_ROWS>().0[j]);
            }
            for r in 0..O % OUTER_ROWS {
                let g = core::array::from_mut(&mut grad.as_chunks_mut::<OUTER_ROWS>().1[r]);
                outer_tile(g, None, xs, deltas, |d: &[T; O]| [d.as_chunks::<OUTER_ROWS>().1[r]]);
            }
            outer_bias(grad_b, deltas, None);
        }
        Some((w, b, scale, lr)) => {
            for j in 0..O / OUTER_ROWS {
                let g = &mut grad.as_chunks_mut::<OUTER_ROWS>().0[j];
                let w = &mut w.as_chunks_mut::<OUTER_ROWS>().0[j];
                outer_tile(g, Some((w, scale, lr)), xs, deltas, |d: &[T; O]| {
                    d.as_chunks::<OUTER_ROWS>().0[j]
                });
            }
            for r in 0..O % OUTER_ROWS {
                let g = core::array::from_mut(&mut grad.as_chunks_mut::<OUTER_ROWS>().1[r]);
                let w = core::array::from_mut(&mut w.as_chunks_mut::<OUTER_ROWS>().1[r]);
                outer_tile(g, Some((w, scale, lr)), xs, deltas, |d: &[T; O]| {
                    [d.as_chunks::<OUTER_ROWS>().1[r]]
                });
            }
            outer_bias(grad_b, deltas, Some((b, scale, lr)));
        }
    }
}

/// The biases' part of the batched outer products: `grad_b += Σ_s deltas[s]`, or with
/// `sgd = (b, scale, lr)`, `grad_b = scale · Σ` and `b -= lr · grad_b`.
#[inline(always)]
fn outer_bias<T: Scalar, const O: usize>(
    grad_b: &mut [T; O],
    deltas: &[[T; O]],
    sgd: Option<(&mut [T; O], T, T)>,
) {
    match sgd {
        None => {
            for o in 0..O {
                grad_b[o] += column_sum(deltas, o);
            }
        }
        Some((b, scale, lr)) => {
            for o in 0..O {
                grad_b[o] = column_sum(deltas, o) * scale;
                b[o] -= lr * grad_b[o];
            }
        }
    }
}

/// `Σ_s deltas[s][o]`.
#[inline(always)]
fn column_sum<T: Scalar, const O: usize>(deltas: &[[T; O]], o: usize) -> T {
    let mut sum = -T::ZERO;
    for d in deltas {
        if let Some(&d) = d.get(o) {
            sum += d;
        }
    }
    sum
}

/// `R` rows of the outer products, whose error signals `column` picks from each sample's
/// `delta`: `grad += Σ`, or with `sgd = (w, scale, lr)`, `grad = scale · Σ` and `w -= lr · grad`.
#[inline(always)]
fn outer_tile<T: Scalar, const I: usize, const O: usize, const R: usize>(
    grad: &mut [[T; I]; R],
    mut sgd: Option<(&mut [[T; I]; R], T, T)>,
    xs: &[[T; I]],
    deltas: &[[T; O]],
    column: impl Fn(&[T; O]) -> [T; R],
) {
    let (scale, lr) = sgd.as_ref().map_or((T::ONE, T::ZERO), |s| (s.1, s.2));
    for c in 0..I / COLS {
        let mut acc = [[-T::ZERO; COLS]; R];
        for (x, d) in xs.iter().zip(deltas) {
            let x = &x.as_chunks::<COLS>().0[c];
            let d = column(d);
            unroll!(r < R, [0 1 2 3 4 5], {
                for k in 0..COLS {
                    acc[r][k] += d[r] * x[k];
                }
            });
        }
        for r in 0..R {
            let g = &mut grad[r].as_chunks_mut::<COLS>().0[c];
            match &mut sgd {
                None => {
                    for (g, a) in g.iter_mut().zip(acc[r]) {
                        *g += a;
                    }
                }
                Some((w, _, _)) => {
                    let w = &mut w[r].as_chunks_mut::<COLS>().0[c];
                    for ((g, w), a) in g.iter_mut().zip(w).zip(acc[r]) {
                        *g = a * scale;
                        *w -= lr * *g;
                    }
                }
            }
        }
    }
    if I % COLS >= LANES {
        // The columns past the last full chunk, all at once, samples outer (see
        // `backward_sgd_impl`). Not for fewer than 8 of them: LLVM then vectorises across the
        // rows and unpacks its accumulators on every sample (a 100 × 30 step with 32 samples,
        // 4 leftover columns, 5.7 → 7.0 µs), so those take a pass over the samples each (below).
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

/// `W += Σ_s steps[s] xs[s]ᵀ`, the samples one after another: every weight becomes
/// `(…((w + steps[0][o] · xs[0][i]) + steps[1][o] · xs[1][i]) + …)`, the products rounded and
/// added in the order of the samples. That is what [`sgd`] does to `W` once per sample with
/// `step · delta = steps[s]`, bit for bit, but `W` is read and written once for all of them
/// instead of once per sample: the deferred first-layer updates of
/// [`Deferred`](crate::Deferred). Tiles of 6 rows × 16 columns, each weight kept in a register
/// while the samples go by. (Rows whose step is zero for a sample are updated with their tile,
/// where [`sgd`] skips long ones: the same bits but for a `-0.0` weight and an infinite input, see
/// [`SKIP_ZERO_ROWS`]. One sample goes through [`sgd`] itself.)
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
    let n = xs.len().min(steps.len());
    let (xs, steps) = (&xs[..n], &steps[..n]);
    if let ([x], [step]) = (xs, steps) {
        // One pending step is an SGD step (`1 · step` is `step` exactly), rows with nothing to
        // add skipped: the last flush of a sequence, or a sequence of one sample.
        return sgd(w, &mut [T::ZERO; O], x, step, T::ONE);
    }
    #[cfg(all(feature = "fma", target_arch = "x86_64"))]
    if fused::<T, I, O>() {
        // SAFETY: `fused` holds: `T` is `f32` and the CPU has AVX-512F.
        return unsafe { fma::rank_update::<I, O>(view::of_mut(w), view::rows(xs), view::rows(steps)) };
    }
    dispatch!(I * O * 4, rank_update_impl::<I, O>(w: &mut [[T; I]; O], xs: &[[T; I]], steps: &[[T; O]]))
}

#[inline(always)]
fn rank_update_impl<T: Scalar, const I: usize, const O: usize>(
    w: &mut [[T; I]; O],
    xs: &[[T; I]],
    steps: &[[T; O]],
) {
    for j in 0..O / OUTER_ROWS {
        let w = &mut w.as_chunks_mut::<OUTER_ROWS>().0[j];
        update_tile(w, xs, steps, |d: &[T; O]| d.as_chunks::<OUTER_ROWS>().0[j]);
    }
    for r in 0..O % OUTER_ROWS {
        let w = core::array::from_mut(&mut w.as_chunks_mut::<OUTER_ROWS>().1[r]);
        update_tile(w, xs, steps, |d: &[T; O]| [d.as_chunks::<OUTER_ROWS>().1[r]]);
    }
}

/// `R` rows of [`rank_update`], whose steps `column` picks from each sample's: the tile of
/// weights is loaded, gets one product per sample added, and is stored.
#[inline(always)]
fn update_tile<T: Scalar, const I: usize, const O: usize, const R: usize>(
    w: &mut [[T; I]; R],
    xs: &[[T; I]],
    steps: &[[T; O]],
    column: impl Fn(&[T; O]) -> [T; R],
) {
    for c in 0..I / COLS {
        let mut acc: [[T; COLS]; R] = core::array::from_fn(|r| w[r].as_chunks::<COLS>().0[c]);
        for (x, d) in xs.iter().zip(steps) {
            let x = &x.as_chunks::<COLS>().0[c];
            let d = column(d);
            unroll!(r < R, [0 1 2 3 4 5], {
                for k in 0..COLS {
                    acc[r][k] += d[r] * x[k];
                }
            });
        }
        for r in 0..R {
            w[r].as_chunks_mut::<COLS>().0[c] = acc[r];
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Deterministic values in `[-1, 1)`, different for every `seed`.
    fn fill<const N: usize>(seed: u64) -> [f64; N] {
        let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        core::array::from_fn(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 11) as f64 / (1u64 << 52) as f64 - 1.0
        })
    }

    /// [`fill`] rounded to `f32`.
    fn fill_f32<const N: usize>(seed: u64) -> [f32; N] {
        fill::<N>(seed).map(|v| v as f32)
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() <= 1e-12 * (1.0 + a.abs().max(b.abs()))
    }

    /// Every kernel against the textbook formula, and the kernels that must agree bit for bit
    /// (one sample alone or in a tile, with or without the fused update) against each other.
    fn check<const I: usize, const O: usize>() {
        let w: [[f64; I]; O] = core::array::from_fn(|o| fill(o as u64 + 1));
        let b: [f64; O] = fill(99);
        let xs: [[f64; I]; 45] = core::array::from_fn(|s| fill(1000 + s as u64));
        let deltas: [[f64; O]; 45] = core::array::from_fn(|s| fill(2000 + s as u64));
        let x = &xs[0];
        let delta = &deltas[0];

        // Forward, one sample.
        let mut z = [0.0; O];
        gemv(&w, &b, x, &mut z);
        for o in 0..O {
            let naive: f64 = b[o] + (0..I).map(|i| w[o][i] * x[i]).sum::<f64>();
            assert!(close(z[o], naive), "gemv {I}x{O}: {} vs {naive}", z[o]);
            assert_eq!(z[o], affine_dot(b[o], &w[o], x));
        }

        // Backward, one sample: dx = Wᵀ delta, grad = delta xᵀ; fused SGD agrees bit for bit.
        let mut grad = [[7.0; I]; O];
        let mut dx = [0.0; I];
        backward(&w, &mut grad, x, delta, &mut dx, false);
        for i in 0..I {
            let naive: f64 = (0..O).map(|o| delta[o] * w[o][i]).sum();
            assert!(close(dx[i], naive), "backward dx {I}x{O}");
        }
        for o in 0..O {
            for i in 0..I {
                assert_eq!(grad[o][i], delta[o] * x[i]);
            }
        }
        backward(&w, &mut grad, x, delta, &mut dx, true);
        assert_eq!(grad[O - 1][I - 1], 2.0 * delta[O - 1] * x[I - 1]);
        let mut outer_grad = [[7.0; I]; O];
        outer(&mut outer_grad, x, delta, false);
        outer(&mut outer_grad, x, delta, true);
        assert_eq!(outer_grad, grad);

        let step = -0.125;
        let (mut fused, mut first) = (w, w);
        let mut dx_fused = [0.0; I];
        backward_sgd(&mut fused, x, delta, step, &mut dx_fused);
        let mut first_b = b;
        sgd(&mut first, &mut first_b, x, delta, step);
        assert_eq!(dx_fused, dx);
        for o in 0..O {
            for i in 0..I {
                assert_eq!(fused[o][i], w[o][i] + (step * delta[o]) * x[i]);
            }
        }
        assert_eq!(fused, first);
        for o in 0..O {
            assert_eq!(first_b[o], b[o] + step * delta[o]);
        }

        // A tile of samples: every sample exactly as alone, for every count up to a tile.
        for n in [1, 3, 4, 5, 6, 7, 13, BATCH_TILE] {
            let mut zs = [[0.0; O]; BATCH_TILE];
            gemm(&w, &b, &xs[..n], &mut zs[..n]);
            let mut dxs = [[0.0; I]; BATCH_TILE];
            gemm_t(&w, &deltas[..n], &mut dxs[..n]);
            for s in 0..n {
                let mut z = [0.0; O];
                gemv(&w, &b, &xs[s], &mut z);
                assert_eq!(zs[s], z, "gemm {I}x{O}, {n} samples, sample {s}");
                let mut dx = [0.0; I];
                backward(&w, &mut [[0.0; I]; O], &xs[s], &deltas[s], &mut dx, false);
                assert_eq!(dxs[s], dx, "gemm_t {I}x{O}, {n} samples, sample {s}");
            }

            // Outer products: the sum over the samples, accumulated or as a fused mean step.
            let mut grad = [[1.0; I]; O];
            let mut grad_b = [1.0; O];
            gemm_outer(&mut grad, &mut grad_b, &xs[..n], &deltas[..n]);
            let (mut wn, mut bn) = (w, b);
            let (mut mean, mut mean_b) = ([[5.0; I]; O], [5.0; O]);
            let (scale, lr) = (1.0 / n as f64, 0.25);
            gemm_outer_sgd(&mut wn, &mut bn, &mut mean, &mut mean_b, &xs[..n], &deltas[..n], scale, lr);
            for o in 0..O {
                for i in 0..I {
                    let naive: f64 = (0..n).map(|s| deltas[s][o] * xs[s][i]).sum();
                    assert!(close(grad[o][i], 1.0 + naive), "gemm_outer {I}x{O}, {n} samples");
                    assert!(close(mean[o][i], naive * scale));
                    assert_eq!(wn[o][i], w[o][i] - lr * mean[o][i]);
                }
                let naive_b: f64 = (0..n).map(|s| deltas[s][o]).sum();
                assert!(close(grad_b[o], 1.0 + naive_b) && close(mean_b[o], naive_b * scale));
                assert_eq!(bn[o], b[o] - lr * mean_b[o]);
            }

            // Deferred updates: the samples' steps one after another, as `sgd` once per sample.
            let mut ranked = w;
            rank_update(&mut ranked, &xs[..n], &deltas[..n]);
            let (mut one_by_one, mut unused_b) = (w, b);
            for s in 0..n {
                sgd(&mut one_by_one, &mut unused_b, &xs[s], &deltas[s], 1.0);
            }
            assert_eq!(ranked, one_by_one, "rank_update {I}x{O}, {n} samples");
        }
    }

    /// The order every exact dot product follows, written out: lane `k` sums the products `k mod 8`
    /// in order from `-0.0`, then `((l0 + l4) + (l2 + l6)) + ((l1 + l5) + (l3 + l7))`, then the
    /// bias (below one chunk, the bias joins lane 0 instead).
    fn spec_affine(bias: f32, w: &[f32], x: &[f32]) -> f32 {
        let mut lanes = [-0.0f32; LANES];
        for i in 0..w.len() {
            lanes[i % LANES] += w[i] * x[i];
        }
        if w.len() < LANES {
            lanes[0] = bias + w[0] * x[0];
            let lane = |k: usize| (k < w.len()).then(|| lanes[k]);
            let add = |a: Option<f32>, b: Option<f32>| match (a, b) {
                (Some(a), Some(b)) => Some(a + b),
                (a, None) => a,
                (None, b) => b,
            };
            let sum = add(
                add(add(lane(0), lane(4)), add(lane(2), lane(6))),
                add(add(lane(1), lane(5)), add(lane(3), lane(7))),
            );
            return sum.unwrap();
        }
        bias + (((lanes[0] + lanes[4]) + (lanes[2] + lanes[6]))
            + ((lanes[1] + lanes[5]) + (lanes[3] + lanes[7])))
    }

    #[test]
    fn kernels_match_the_formulas_for_every_remainder() {
        // Sizes that exercise every tail: of the 8 lanes, the 16 columns, the 8-row, 4-row and
        // 6-row blocks, and sizes below each.
        check::<1, 1>();
        check::<3, 2>();
        check::<17, 7>();
        // Under Miri (run in CI for the unsafe parameter views), the small sizes suffice: the
        // kernels are safe code.
        #[cfg(not(miri))]
        {
            check::<2, 3>();
            check::<8, 8>();
            check::<33, 13>();
            check::<40, 6>();
            check::<64, 19>();
            check::<300, 20>();
        }
    }

    /// In `f32`, every way a kernel reduces its tile (unrolled inline, `map` when outlined, AVX
    /// in registers when the build enables it) gives the bits of [`affine_dot`] and of the written
    /// lane order ([`spec_affine`]), one sample or a batch: checked on sizes that take each path
    /// and every remainder of the 8 lanes. A sum of `-0.0` products stays `-0.0` (the elements past
    /// the last chunk are padded with products of exactly `-0.0`, which must change nothing).
    #[test]
    fn f32_forward_is_the_same_bits_whichever_reduction() {
        fn check<const I: usize, const O: usize>() {
            let w: [[f32; I]; O] = core::array::from_fn(|o| fill_f32(o as u64 + 7));
            let b: [f32; O] = fill_f32::<O>(5);
            let xs: [[f32; I]; 5] = core::array::from_fn(|s| fill_f32(300 + s as u64));
            let mut zs = [[0.0f32; O]; 5];
            gemm(&w, &b, &xs, &mut zs);
            for (x, batched) in xs.iter().zip(&zs) {
                let mut z = [0.0f32; O];
                gemv(&w, &b, x, &mut z);
                for o in 0..O {
                    let want = affine_dot(b[o], &w[o], x).to_bits();
                    assert_eq!(want, spec_affine(b[o], &w[o], x).to_bits(), "{I}x{O} affine_dot, row {o}");
                    assert_eq!(z[o].to_bits(), want, "{I}x{O} gemv, row {o}");
                    assert_eq!(batched[o].to_bits(), want, "{I}x{O} gemm, row {o}");
                }
            }
            // Weights of -0.0 and positive inputs: every product and every lane is -0.0.
            let (w, b, x) = ([[-0.0f32; I]; O], [-0.0f32; O], [1.0f32; I]);
            let mut z = [1.0f32; O];
            gemv(&w, &b, &x, &mut z);
            assert!(z.iter().all(|z| z.to_bits() == (-0.0f32).to_bits()), "{I}x{O}: {z:?}");
        }
        check::<3, 5>(); // below one chunk: the bias in lane 0
        check::<8, 4>(); // inlined: the unrolled reduction
        check::<16, 16>(); // outlined, short rows: AVX with AVX enabled, else `map`
        check::<64, 32>();
        check::<72, 9>(); // longer than `AVX_REDUCE_MAX`, with remainders: `map`
        check::<300, 3>();
        // Every remainder of the 8 lanes, inlined and outlined.
        check::<9, 9>();
        check::<10, 17>();
        check::<11, 4>();
        check::<12, 8>();
        check::<13, 33>();
        check::<14, 2>();
        check::<15, 1>();
        check::<23, 12>();
        check::<50, 32>();
        check::<100, 30>();
    }

    /// In `f32`, the row-by-row updates ([`sgd`], [`outer`]) compute the written formulas bit for
    /// bit, whichever way they run (with AVX enabled at compile time, vectors written out; CI runs
    /// these tests so), on rows with and without a remainder of the 8 lanes.
    #[test]
    fn f32_row_updates_are_the_formulas_bit_for_bit() {
        fn check<const I: usize, const O: usize>() {
            let w: [[f32; I]; O] = core::array::from_fn(|o| fill_f32(o as u64 + 11));
            let b: [f32; O] = fill_f32::<O>(3);
            let x: [f32; I] = fill_f32(77);
            let delta: [f32; O] = fill_f32::<O>(78);
            let step = -0.03125f32 * 3.0;
            let (mut updated, mut updated_b) = (w, b);
            sgd(&mut updated, &mut updated_b, &x, &delta, step);
            let mut grad = w;
            outer(&mut grad, &x, &delta, true);
            let mut fresh = [[1.0f32; I]; O];
            outer(&mut fresh, &x, &delta, false);
            for o in 0..O {
                let scaled = step * delta[o];
                assert_eq!(updated_b[o].to_bits(), (b[o] + scaled).to_bits());
                for i in 0..I {
                    assert_eq!(updated[o][i].to_bits(), (w[o][i] + scaled * x[i]).to_bits(), "sgd {I}x{O}");
                    assert_eq!(
                        grad[o][i].to_bits(),
                        (w[o][i] + delta[o] * x[i]).to_bits(),
                        "outer += {I}x{O}"
                    );
                    assert_eq!(fresh[o][i].to_bits(), (delta[o] * x[i]).to_bits(), "outer = {I}x{O}");
                }
            }
            // The deferred updates of 5 samples, each weight's products in the samples' order.
            let xs: [[f32; I]; 5] = core::array::from_fn(|s| fill_f32(90 + s as u64));
            let steps: [[f32; O]; 5] = core::array::from_fn(|s| fill_f32(95 + s as u64));
            let mut ranked = w;
            rank_update(&mut ranked, &xs, &steps);
            for o in 0..O {
                for i in 0..I {
                    let spec = (0..5).fold(w[o][i], |w, s| w + steps[s][o] * xs[s][i]);
                    assert_eq!(ranked[o][i].to_bits(), spec.to_bits(), "rank_update {I}x{O}");
                }
            }
        }
        check::<2, 2>(); // inlined
        check::<16, 16>(); // outlined, whole vectors
        check::<13, 40>(); // one vector and a remainder
        check::<100, 3>();
    }

    /// [`sgd`] on `O = 6` rows whose error signals are `+0`, `-0`, a value, the smallest positive
    /// one (whose scaled value underflows to zero), another value and `+0`, with an infinite
    /// input: rows of at least [`SKIP_ZERO_ROWS`] inputs with a zero scaled signal keep their bits
    /// (the formula would have made the infinite column NaN, and turned the `-0.0` weight of row
    /// 1, whose scaled signal is `+0`, into `+0.0`); shorter rows, and every row with a signal, get `update(w, step·delta, x)`
    /// bit for bit, their biases `b + step·delta`.
    fn check_zero_rows<T: Scalar, const I: usize>(update: impl Fn(T, T, T) -> T) {
        const O: usize = 6;
        let from = |v: f64| T::from_f64(v);
        let bits = |v: T| v.to_f64().to_bits();
        let mut w: [[T; I]; O] = core::array::from_fn(|o| fill::<I>(o as u64 + 31).map(from));
        w[1][3] = -T::ZERO;
        let b: [T; O] = fill::<O>(37).map(from);
        let mut x: [T; I] = fill::<I>(38).map(|v| from(v.abs() + 0.5));
        x[7] = T::INFINITY;
        let smallest = T::MIN_POSITIVE * T::EPSILON;
        let delta = [T::ZERO, -T::ZERO, from(0.75), smallest, from(-0.5), T::ZERO];
        let step = from(-0.125);
        assert!(step * smallest == T::ZERO, "the smallest signal's step underflows");

        let (mut updated, mut updated_b) = (w, b);
        sgd(&mut updated, &mut updated_b, &x, &delta, step);
        for o in 0..O {
            let scaled = step * delta[o];
            let skipped = I >= SKIP_ZERO_ROWS && scaled == T::ZERO;
            let want_b = if skipped { b[o] } else { b[o] + scaled };
            assert_eq!(bits(updated_b[o]), bits(want_b), "bias {o}, {I} inputs");
            for i in 0..I {
                let want = if skipped { w[o][i] } else { update(w[o][i], scaled, x[i]) };
                let (got, want) = (updated[o][i], want);
                let same = bits(got) == bits(want) || (got.to_f64().is_nan() && want.to_f64().is_nan());
                assert!(same, "{} row {o} column {i}, {I} inputs: {got:?} vs {want:?}", T::NAME);
            }
        }
        // One deferred step is the same SGD step, to the bit.
        let mut ranked = w;
        let steps = delta.map(|d| step * d);
        rank_update(&mut ranked, core::slice::from_ref(&x), core::slice::from_ref(&steps));
        for o in 0..O {
            let (r, u) = (ranked[o], updated[o]);
            let same =
                |i: usize| bits(r[i]) == bits(u[i]) || (r[i].to_f64().is_nan() && u[i].to_f64().is_nan());
            assert!((0..I).all(same), "rank_update of one sample, row {o}, {I} inputs");
        }
        // What skipping changes, and what it leaves: the infinite column and the `-0.0` weight.
        let long = I >= SKIP_ZERO_ROWS;
        assert_eq!(updated[0][7].to_f64().is_nan(), !long);
        assert_eq!(updated[1][3].to_f64().is_sign_negative(), long);
        assert!(updated[2][7].to_f64().is_infinite() && updated[2][0] != w[2][0]);
    }

    #[test]
    fn sgd_leaves_long_rows_with_a_zero_signal_alone() {
        check_zero_rows::<f64, 300>(|w, s, x| w + s * x);
        check_zero_rows::<f64, { SKIP_ZERO_ROWS - 1 }>(|w, s, x| w + s * x);
        check_zero_rows::<f32, 300>(|w, s, x| w + s * x);
        check_zero_rows::<f32, { SKIP_ZERO_ROWS }>(|w, s, x| w + s * x);
        check_zero_rows::<f32, 13>(|w, s, x| w + s * x);
    }

    /// The AVX reduction of builds with AVX enabled (`-C target-cpu=native`; CI runs these tests
    /// so) is the portable one, bit for bit, on values of every magnitude and sign.
    #[cfg(all(target_arch = "x86_64", target_feature = "avx"))]
    #[test]
    fn avx_reduction_is_the_portable_one_bit_for_bit() {
        let mut state = 0x2545_f491_u32;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            state
        };
        for _ in 0..100_000 {
            let lanes: [f32; 8] = core::array::from_fn(|_| {
                let bits = next();
                // Sign and mantissa at random, exponents within 2^±16, so sums round and cancel.
                let exponent = 127 - 16 + (bits >> 23) % 33;
                f32::from_bits((bits & 0x807f_ffff) | (exponent << 23))
            });
            let portable = reduce::<f32, 8>(|k| lanes[k]);
            assert_eq!(x86::reduce8(&lanes).to_bits(), portable.to_bits(), "{lanes:?}");
        }
    }

    /// The `fma` feature's kernels, on a CPU with AVX-512F: bit for bit against their written
    /// specification (16 lanes of `mul_add` in order from `-0.0`, then the fixed tree), close to
    /// the exact sums in `f64`, and the same bits for a sample alone or in a batch and for
    /// `Wᵀ delta` whichever kernel computes it.
    #[cfg(all(feature = "fma", target_arch = "x86_64"))]
    mod fused {
        use super::*;
        use std::boxed::Box;
        use std::vec::Vec;

        /// `n` arrays of `N` values of `fill`, on the heap (the sizes here overflow a test's stack).
        fn rows<const N: usize>(n: usize, seed: u64) -> Box<[[f32; N]]> {
            (0..n).map(|r| fill_f32::<N>(seed + r as u64)).collect()
        }

        fn matrix<const I: usize, const O: usize>(seed: u64) -> Box<[[f32; I]; O]> {
            rows::<I>(O, seed).try_into().unwrap()
        }

        /// The specification of every dot product of the FMA kernels.
        fn spec_dot(a: &[f32], b: &[f32]) -> f32 {
            let mut lanes = [-0.0f32; 16];
            for i in 0..a.len() {
                lanes[i % 16] = a[i].mul_add(b[i], lanes[i % 16]);
            }
            let eighths: [f32; 8] = core::array::from_fn(|j| lanes[j] + lanes[j + 8]);
            let quarters: [f32; 4] = core::array::from_fn(|j| eighths[j] + eighths[j + 4]);
            (quarters[0] + quarters[2]) + (quarters[1] + quarters[3])
        }

        /// `|got - exact| ≤ 2 · n · ε · Σ|terms|`, the classic bound for a sum of `n` rounded terms.
        fn near(got: f32, exact: f64, magnitude: f64, n: usize) {
            let bound = 2.0 * n as f64 * f64::from(f32::EPSILON) * magnitude + f64::from(f32::MIN_POSITIVE);
            assert!((f64::from(got) - exact).abs() <= bound, "{got} vs {exact} (bound {bound})");
        }

        fn check<const I: usize, const O: usize>() {
            assert!(I * O >= FMA_MIN);
            if !fma::available() {
                std::eprintln!("this CPU has no AVX-512F: the FMA kernels cannot run here");
                return;
            }
            assert!(fused::<f32, I, O>() && !fused::<f64, I, O>());
            let w = matrix::<I, O>(1);
            let b = fill_f32::<O>(99);
            let xs = rows::<I>(BATCH_TILE, 1000);
            let deltas = rows::<O>(BATCH_TILE, 2000);
            let (x, delta) = (&xs[0], &deltas[0]);

            // Forward: the specification, bit for bit, and near the exact sum.
            let mut z = [0.0f32; O];
            gemv(&w, &b, x, &mut z);
            for o in 0..O {
                assert_eq!(z[o].to_bits(), (b[o] + spec_dot(&w[o], x)).to_bits(), "gemv {I}x{O} row {o}");
                let exact: f64 =
                    f64::from(b[o]) + (0..I).map(|i| f64::from(w[o][i]) * f64::from(x[i])).sum::<f64>();
                let magnitude: f64 =
                    f64::from(b[o].abs()) + (0..I).map(|i| f64::from((w[o][i] * x[i]).abs())).sum::<f64>();
                near(z[o], exact, magnitude, I + 1);
            }

            // Backward: `Wᵀ delta` as specified (the sum over the rows in order), the gradient.
            let spec_dx: Vec<f32> =
                (0..I).map(|i| (0..O).fold(-0.0f32, |acc, o| delta[o].mul_add(w[o][i], acc))).collect();
            let mut grad = matrix::<I, O>(7);
            let mut dx = [0.0f32; I];
            backward(&w, &mut grad, x, delta, &mut dx, false);
            assert_eq!(dx.as_slice(), spec_dx.as_slice(), "backward {I}x{O}");
            let mut accumulated = grad.clone();
            backward(&w, &mut accumulated, x, delta, &mut dx, true);
            let mut outer_grad = matrix::<I, O>(8);
            outer(&mut outer_grad, x, delta, false);
            for o in 0..O {
                for i in 0..I {
                    assert_eq!(grad[o][i], delta[o] * x[i]);
                    assert_eq!(accumulated[o][i], delta[o].mul_add(x[i], grad[o][i]));
                }
            }
            assert_eq!(outer_grad, grad);
            outer(&mut outer_grad, x, delta, true);
            assert_eq!(outer_grad, accumulated);

            // The fused updates: `w = fma(step·d, x, w)`, the same in both kernels.
            let step = -0.125f32;
            let (mut fused_w, mut first) = (w.clone(), w.clone());
            let mut first_b = b;
            let mut dx_fused = [0.0f32; I];
            backward_sgd(&mut fused_w, x, delta, step, &mut dx_fused);
            sgd(&mut first, &mut first_b, x, delta, step);
            assert_eq!(dx_fused.as_slice(), spec_dx.as_slice());
            for o in 0..O {
                for i in 0..I {
                    assert_eq!(fused_w[o][i], (step * delta[o]).mul_add(x[i], w[o][i]));
                }
                assert_eq!(first_b[o], b[o] + step * delta[o]);
            }
            assert_eq!(fused_w, first);

            // A tile of samples: each sample as alone; the outer products summed as specified.
            for n in [1, 3, 4, 5, 13, BATCH_TILE] {
                let mut zs = std::vec![[0.0f32; O]; n];
                gemm(&w, &b, &xs[..n], &mut zs);
                let mut dxs = std::vec![[0.0f32; I]; n];
                gemm_t(&w, &deltas[..n], &mut dxs);
                for s in 0..n {
                    let mut z = [0.0f32; O];
                    gemv(&w, &b, &xs[s], &mut z);
                    assert_eq!(zs[s], z, "gemm {I}x{O}, {n} samples, sample {s}");
                    backward(&w, &mut grad, &xs[s], &deltas[s], &mut dx, false);
                    assert_eq!(dxs[s], dx, "gemm_t {I}x{O}, {n} samples, sample {s}");
                }

                // Deferred updates: `w = fma(step, x, w)` per sample in order, as `sgd` would.
                let mut ranked = w.clone();
                rank_update(&mut ranked, &xs[..n], &deltas[..n]);
                let mut one_by_one = w.clone();
                let mut unused_b = b;
                for s in 0..n {
                    sgd(&mut one_by_one, &mut unused_b, &xs[s], &deltas[s], 1.0);
                }
                assert_eq!(ranked, one_by_one, "rank_update {I}x{O}, {n} samples");
                for i in [0, I / 2, I - 1] {
                    let spec = (0..n).fold(w[O - 1][i], |w, s| deltas[s][O - 1].mul_add(xs[s][i], w));
                    assert_eq!(ranked[O - 1][i], spec, "rank_update {I}x{O}, {n} samples");
                }

                let mut summed = matrix::<I, O>(3);
                let before = summed.clone();
                let mut summed_b = [1.0f32; O];
                gemm_outer(&mut summed, &mut summed_b, &xs[..n], &deltas[..n]);
                let (mut wn, mut bn) = (w.clone(), b);
                let (mut mean, mut mean_b) = (matrix::<I, O>(4), [5.0f32; O]);
                let (scale, lr) = (1.0 / n as f32, 0.25f32);
                gemm_outer_sgd(&mut wn, &mut bn, &mut mean, &mut mean_b, &xs[..n], &deltas[..n], scale, lr);
                for o in 0..O {
                    for i in 0..I {
                        let sum = (0..n).fold(-0.0f32, |acc, s| deltas[s][o].mul_add(xs[s][i], acc));
                        assert_eq!(summed[o][i], before[o][i] + sum, "gemm_outer {I}x{O}, {n} samples");
                        assert_eq!(mean[o][i], sum * scale);
                        assert_eq!(wn[o][i], (-lr).mul_add(mean[o][i], w[o][i]));
                        let exact: f64 = (0..n).map(|s| f64::from(deltas[s][o]) * f64::from(xs[s][i])).sum();
                        let magnitude: f64 = (0..n).map(|s| f64::from((deltas[s][o] * xs[s][i]).abs())).sum();
                        near(sum, exact, magnitude, n);
                    }
                    // The biases: the exact kernels' loops, as in every build.
                    let sum_b = deltas[..n].iter().fold(-0.0f32, |acc, d| acc + d[o]);
                    assert_eq!(summed_b[o], 1.0 + sum_b);
                    assert_eq!(mean_b[o], sum_b * scale);
                    assert_eq!(bn[o], b[o] - lr * mean_b[o]);
                }
            }
        }

        #[test]
        fn fma_kernels_follow_their_specification() {
            // Every tail (of the 16 lanes, of the 8-, 4- and 2-chunk blocks, of the 8- and 4-row
            // tiles), and the W4 layer.
            check::<64, 64>();
            check::<100, 45>();
            check::<33, 130>();
            check::<300, 17>();
            check::<17, 241>();
            check::<4100, 1>();
            check::<16, 515>(); // one whole vector per row, every row-tile remainder
            check::<784, 128>();
        }

        /// The FMA kernel skips the same rows (of 6 rows, 683 inputs or more are big enough for it;
        /// 700 has a partial vector, 1024 has none).
        #[test]
        fn fma_sgd_leaves_long_rows_with_a_zero_signal_alone() {
            if fma::available() {
                assert!(fused::<f32, 700, 6>() && fused::<f32, 1024, 6>());
                check_zero_rows::<f32, 700>(|w, s, x| s.mul_add(x, w));
                check_zero_rows::<f32, 1024>(|w, s, x| s.mul_add(x, w));
            }
        }

        /// The aligned loads of rows that are a multiple of 16 long (`fma::dot_tile`) give the
        /// same bits wherever the weights and the inputs lie: every offset from a 64-byte
        /// boundary, for the weights and for the inputs independently.
        #[test]
        fn fma_results_do_not_depend_on_alignment() {
            fn check<const I: usize, const O: usize>() {
                if !fma::available() {
                    return;
                }
                let w = matrix::<I, O>(21);
                let b = fill_f32::<O>(22);
                let xs = rows::<I>(9, 23);
                let want: Vec<[f32; O]> =
                    xs.iter().map(|x| core::array::from_fn(|o| b[o] + spec_dot(&w[o], x))).collect();
                // Room for any offset: 16 floats more than the data, plus the alignment itself.
                let mut w_buffer = std::vec![0.0f32; I * O + 32];
                let mut x_buffer = std::vec![0.0f32; 9 * I + 32];
                for offset in 0..16 {
                    let w_at = w_buffer.as_ptr().align_offset(64) + offset;
                    let x_at = x_buffer.as_ptr().align_offset(64) + (offset * 7) % 16;
                    w_buffer[w_at..w_at + I * O].copy_from_slice(w.as_flattened());
                    x_buffer[x_at..x_at + 9 * I].copy_from_slice(xs.as_flattened());
                    let (placed_w, _) = w_buffer[w_at..].as_chunks::<I>();
                    let placed_w: &[[f32; I]; O] = placed_w[..O].try_into().unwrap();
                    let placed_xs = &x_buffer[x_at..].as_chunks::<I>().0[..9];
                    let mut zs = [[0.0f32; O]; 9];
                    gemm(placed_w, &b, placed_xs, &mut zs);
                    for s in 0..9 {
                        let mut z = [0.0f32; O];
                        gemv(placed_w, &b, &placed_xs[s], &mut z);
                        assert_eq!(z, want[s], "gemv {I}x{O}, weights at offset {offset}, sample {s}");
                        assert_eq!(zs[s], want[s], "gemm {I}x{O}, weights at offset {offset}, sample {s}");
                    }
                }
            }
            check::<64, 64>();
            check::<784, 13>();
        }

        /// Below [`FMA_MIN`], with rows shorter than [`FMA_MIN_INPUTS`], and for `f64`, the exact
        /// kernels run, feature or not.
        #[test]
        fn small_layers_short_rows_and_f64_keep_the_exact_kernels() {
            assert!(!fused::<f32, 63, 65>() && !fused::<f64, 784, 128>());
            assert!(!fused::<f32, 8, 4096>() && !fused::<f32, 15, 4096>() && !fused::<f32, 1, 8192>());
        }
    }

    #[test]
    fn unused_lanes_cost_nothing_and_change_nothing() {
        // `-0.0` is the identity of addition: a product of `-0.0` stays `-0.0`.
        assert_eq!(dot(&[-0.0f64], &[1.0]).to_bits(), (-0.0f64).to_bits());
        assert_eq!(dot(&[2.0f32, 3.0], &[4.0, 5.0]), 23.0);
    }
}
