//! The exact kernels: plain Rust that LLVM vectorises for whatever the build targets, each
//! product rounded then added, in an order fixed by the sizes alone (see the kernel design in
//! [`kernel`](super)). One sample here, a tile of samples in [`batch`].
//!
//! They are three backends, the same code compiled three ways: [`Portable`] inlines it into the
//! caller, [`Outlined`] puts it in a function of its own, and `avx2::Avx2` compiles that function
//! for AVX2.

use super::common::for_rows_to_update;
use super::{LANES, OUTLINE_MIN};
use crate::Scalar;

#[cfg(all(target_arch = "x86_64", target_feature = "avx"))]
use super::avx2::{self, AVX_REDUCE_MAX};
#[cfg(all(target_arch = "x86_64", target_feature = "avx"))]
use super::common::view;

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
// The convolution kernels' register tiles unroll the same way.
pub(crate) use unroll;

mod batch;

/// Rows of `W x` computed together for one sample.
const GEMV_ROWS: usize = 8;
/// Columns of `Wᵀ delta` (and of the outer products) kept in registers.
const COLS: usize = 16;

/// The exact kernels as a [`Backend`](super::backend::Backend) with the attributes given
/// (`#[inline(always)]` for [`Portable`], `#[inline(never)]` for [`Outlined`],
/// `#[target_feature(enable = "avx2")]` for `Avx2`): each method is the kernel of the same name in
/// this module.
macro_rules! exact_kernels {
    ($backend:ty, #[$attribute:meta]) => {
        impl $crate::kernel::backend::Backend for $backend {
            #[$attribute]
            unsafe fn gemv<T: $crate::Scalar, const I: usize, const O: usize>(
                w: &[[T; I]; O],
                b: &[T; O],
                x: &[T; I],
                z: &mut [T; O],
            ) {
                $crate::kernel::portable::gemv(w, b, x, z)
            }

            #[$attribute]
            unsafe fn backward<T: $crate::Scalar, const I: usize, const O: usize>(
                w: &[[T; I]; O],
                grad: &mut [[T; I]; O],
                x: &[T; I],
                delta: &[T; O],
                dx: &mut [T; I],
                accumulate: bool,
            ) {
                $crate::kernel::portable::backward(w, grad, x, delta, dx, accumulate)
            }

            #[$attribute]
            unsafe fn backward_sgd<T: $crate::Scalar, const I: usize, const O: usize>(
                w: &mut [[T; I]; O],
                x: &[T; I],
                delta: &[T; O],
                step: T,
                dx: &mut [T; I],
            ) {
                $crate::kernel::portable::backward_sgd(w, x, delta, step, dx)
            }

            #[$attribute]
            unsafe fn outer<T: $crate::Scalar, const I: usize, const O: usize>(
                grad: &mut [[T; I]; O],
                x: &[T; I],
                delta: &[T; O],
                accumulate: bool,
            ) {
                $crate::kernel::portable::outer(grad, x, delta, accumulate)
            }

            #[$attribute]
            unsafe fn sgd<T: $crate::Scalar, const I: usize, const O: usize>(
                w: &mut [[T; I]; O],
                b: &mut [T; O],
                x: &[T; I],
                delta: &[T; O],
                step: T,
            ) {
                $crate::kernel::portable::sgd(w, b, x, delta, step)
            }

            #[$attribute]
            unsafe fn gemm<T: $crate::Scalar, const I: usize, const O: usize>(
                w: &[[T; I]; O],
                b: &[T; O],
                xs: &[[T; I]],
                zs: &mut [[T; O]],
            ) {
                $crate::kernel::portable::gemm(w, b, xs, zs)
            }

            #[$attribute]
            unsafe fn gemm_t<T: $crate::Scalar, const I: usize, const O: usize>(
                w: &[[T; I]; O],
                deltas: &[[T; O]],
                dxs: &mut [[T; I]],
            ) {
                $crate::kernel::portable::gemm_t(w, deltas, dxs)
            }

            #[$attribute]
            unsafe fn gemm_outer<T: $crate::Scalar, const I: usize, const O: usize>(
                grad: &mut [[T; I]; O],
                grad_b: &mut [T; O],
                xs: &[[T; I]],
                deltas: &[[T; O]],
                sgd: Option<$crate::kernel::common::Sgd<'_, T, I, O>>,
            ) {
                $crate::kernel::portable::gemm_outer(grad, grad_b, xs, deltas, sgd)
            }

            #[$attribute]
            unsafe fn rank_update<T: $crate::Scalar, const I: usize, const O: usize>(
                w: &mut [[T; I]; O],
                xs: &[[T; I]],
                steps: &[[T; O]],
            ) {
                $crate::kernel::portable::rank_update(w, xs, steps)
            }
        }
    };
}
// For `avx2::Avx2`, in the builds that have it.
#[cfg(all(feature = "std", target_arch = "x86_64", not(target_feature = "avx2")))]
pub(super) use exact_kernels;

/// The exact kernels inlined into the caller: calls of fewer than
/// [`OUTLINE_MIN`](super::OUTLINE_MIN) multiply-adds.
pub(super) struct Portable;
exact_kernels!(Portable, #[inline(always)]);

/// The exact kernels in a function of their own, never inlined: their register tile then
/// compiles the same whatever the caller.
pub(super) struct Outlined;
exact_kernels!(Outlined, #[inline(never)]);

/// Sum of the 8 lanes of an accumulator in a fixed order, `lane(k)` giving lane `k`, for dot
/// products of length `I`.
///
/// When `I < LANES`, lanes `I..` would hold only their starting `-0.0`. Adding `-0.0` is exact for
/// every value (`+0 + -0 = +0`), so those lanes are left out: the sum is the same bit for bit.
#[inline(always)]
pub(super) fn reduce<T: Scalar, const I: usize>(lane: impl Fn(usize) -> T) -> T {
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
/// that it does not wait for the reduction: the 2-2-1 forward pass is then as short as the
/// hand-written `b + w_0 x_0 + w_1 x_1`. From one chunk on, putting the bias in lane 0 made LLVM
/// assemble it across the rows of the tile, so there it comes after the reduction. Either way the
/// order depends on `I` alone, so one sample gives the same bits alone or in a batch.
#[inline(always)]
pub(super) fn dot_tile<T: Scalar, const I: usize, const S: usize, const R: usize>(
    xs: &[[T; I]; S],
    rows: &[[T; I]; R],
    bias: &[T; R],
    inlined: bool,
) -> [[T; R]; S] {
    // Shorter than one chunk: each lane holds one product (`-0.0 + w_k x_k` is `w_k x_k` exactly),
    // so the products go straight into the reduction, with no accumulator array (on a core
    // without SIMD, LLVM kept that array in memory).
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
        // is, whatever it is: the same loop as a whole chunk's, where element by element each went
        // into its lane on its own.
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
    // `OUTLINE_MIN`), the tile reduces with plain unrolled code: `array::map` goes through closures
    // that LLVM does not always inline into a large caller. A large one (in a function of its own)
    // uses `map`, whose stores LLVM does not bundle across rows: unrolled, they led it to vectorise
    // the main loop across rows too, with gathers.
    if inlined {
        let mut out = [[T::ZERO; R]; S];
        unroll!(s < S, [0 1 2 3], {
            unroll!(r < R, [0 1 2 3 4 5 6 7], {
                out[s][r] = bias[r] + reduce::<T, I>(|k| acc[s][r][k]);
            });
        });
        out
    } else {
        // In registers with AVX, for short rows (see "Reduction in registers" in `kernel`).
        #[cfg(all(target_arch = "x86_64", target_feature = "avx"))]
        if T::TAG == 4 && I <= AVX_REDUCE_MAX {
            // SAFETY: `T` is `f32` (its tag is 4), as `view` requires.
            let acc: &[[[f32; LANES]; R]; S] = unsafe { view::of(&acc) };
            let mut out = [[T::ZERO; R]; S];
            for s in 0..S {
                for r in 0..R {
                    out[s][r] = bias[r] + T::from_f64(f64::from(avx2::reduce8(&acc[s][r])));
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

/// `z = W x + b` (see [`gemv`](super::gemv)).
#[inline(always)]
pub(super) fn gemv<T: Scalar, const I: usize, const O: usize>(
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

/// `dx = Wᵀ delta` and `grad = delta xᵀ` (see [`backward`](super::backward)).
#[inline(always)]
pub(super) fn backward<T: Scalar, const I: usize, const O: usize>(
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
        // The columns past the last full chunk, all at once, rows outer (see `backward_sgd`).
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

/// `dx = Wᵀ delta`, then `W += step · delta xᵀ` (see [`backward_sgd`](super::backward_sgd)).
#[inline(always)]
pub(super) fn backward_sgd<T: Scalar, const I: usize, const O: usize>(
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
        // column, each summed over the rows in order as before. A loop per column would read
        // every row once per column, and make each column's sum one chain of dependent adds.
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

/// `grad = delta xᵀ`, row by row (see [`outer`](super::outer)).
#[inline(always)]
pub(super) fn outer<T: Scalar, const I: usize, const O: usize>(
    grad: &mut [[T; I]; O],
    x: &[T; I],
    delta: &[T; O],
    accumulate: bool,
) {
    for (g, &d) in grad.iter_mut().zip(delta) {
        whole_row(accumulate, d, x, g);
    }
}

/// `W += step · delta xᵀ` and `b += step · delta`, row by row (see [`sgd`](super::sgd)). Each
/// bias is updated with its row: a separate loop over the biases left LLVM a longer chain of
/// shuffles to merge the updates of a small layer into one vector store.
#[inline(always)]
pub(super) fn sgd<T: Scalar, const I: usize, const O: usize>(
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

/// [`outer_row`] over a whole row, in the row-by-row kernels ([`outer`], [`sgd`]). With AVX enabled
/// at compile time, `f32` rows go through `avx2::row`, in 8-lane vectors written out: there is
/// nothing carried from one row to the next in these loops, and once a short row's loop was
/// unrolled, LLVM vectorised the loop over the rows instead, with AVX-512 gathers and scatters
/// of the weights. The same operations in the same order: the same bits.
#[inline(always)]
fn whole_row<T: Scalar, const N: usize>(accumulate: bool, d: T, x: &[T; N], g: &mut [T; N]) {
    #[cfg(all(target_arch = "x86_64", target_feature = "avx"))]
    if T::TAG == 4 {
        // SAFETY: `T` is `f32` (its tag is 4), as `view` requires.
        let (x, g): (&[f32; N], &mut [f32; N]) = unsafe { (view::of(x), view::of_mut(g)) };
        return avx2::row(accumulate, view::scalar(d), x, g);
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

pub(super) use batch::{gemm, gemm_outer, gemm_t, rank_update};
