//! The exact kernels: each product rounded then added, in an order fixed by the sizes alone (see
//! the kernel design in [`kernel`](super)), written once over eight lanes ([`Lanes`]): vectors
//! written out on `x86_64`, arrays elsewhere. One sample here, a tile of samples in [`batch`].
//!
//! They are three backends, the same code compiled three ways: [`Portable`] inlines it into the
//! caller, [`Outlined`] puts it in a function of its own, and `x86::Avx2` compiles that function
//! for AVX2 on AVX vectors.
//!
//! Each kernel is a pair: the entry (`gemv`) takes any scalar and an instruction set, and runs
//! the lanes' version (`gemv_on`) on the set's `f32` lanes when the scalar is `f32`, on
//! [`Array`] lanes otherwise.

use super::LANES;
use super::common::{for_rows_to_update, view};
use super::lanes::{Array, Isa, Lanes};
use crate::Scalar;

/// `for $v in 0..$n { $body }`, unrolled: one copy of the body per index of the list (at least
/// `$n` of them), each with `$v` a constant and guarded by `const { $v < $n }`, so LLVM never
/// sees the copies past `$n`. LLVM does not unroll loops whose bodies are as large as a register
/// tile (nor any loop at `opt-level = "s"`), and a tile left in a loop is a tile in memory; with
/// constant indices the tile lives in registers.
///
/// `unroll!(($a, $b) < ($na, $nb), [..], $body)` is `for $a in 0..$na { for $b in 0..$nb { $body
/// } }` in that order, as one list of at least `$na · $nb` copies. rustc instantiates every copy,
/// dead or not, in each instance of the function before it folds the guards, so two nested
/// `unroll!`s of 16 would cost 256 copies per instance, and build time grows with them. A body
/// that depends on the outer index alone goes under `if $b == 0`.
macro_rules! unroll {
    ($v:ident < $n:expr, [$($i:literal)*], $body:block) => {
        const { assert!($n <= [$($i),*].len()) };
        $(
            if const { $i < $n } {
                #[allow(non_upper_case_globals, clippy::identity_op)]
                let $v: usize = $i;
                $body
            }
        )*
    };
    (($a:ident, $b:ident) < ($na:expr, $nb:expr), [$($i:literal)*], $body:block) => {
        unroll!(n < $na * $nb, [$($i)*], {
            let ($a, $b) = (n / $nb, n % $nb);
            $body
        });
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
/// `#[target_feature(enable = "avx2")]` for `x86::Avx2`) on the lanes of the instruction set
/// given (a [`lanes::Isa`](super::lanes::Isa) token): each method is the kernel of the same name
/// in this module.
macro_rules! exact_kernels {
    ($backend:ty, #[$attribute:meta], $isa:expr) => {
        impl $crate::kernel::backend::Backend for $backend {
            #[$attribute]
            unsafe fn gemv<T: $crate::Scalar, const I: usize, const O: usize>(
                w: &[[T; I]; O],
                b: &[T; O],
                x: &[T; I],
                z: &mut [T; O],
            ) {
                $crate::kernel::portable::gemv($isa, w, b, x, z)
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
                $crate::kernel::portable::backward($isa, w, grad, x, delta, dx, accumulate)
            }

            #[$attribute]
            unsafe fn backward_sgd<T: $crate::Scalar, const I: usize, const O: usize>(
                w: &mut [[T; I]; O],
                x: &[T; I],
                delta: &[T; O],
                step: T,
                dx: &mut [T; I],
            ) {
                $crate::kernel::portable::backward_sgd($isa, w, x, delta, step, dx)
            }

            #[$attribute]
            unsafe fn outer<T: $crate::Scalar, const I: usize, const O: usize>(
                grad: &mut [[T; I]; O],
                x: &[T; I],
                delta: &[T; O],
                accumulate: bool,
            ) {
                $crate::kernel::portable::outer($isa, grad, x, delta, accumulate)
            }

            #[$attribute]
            unsafe fn sgd<T: $crate::Scalar, const I: usize, const O: usize>(
                w: &mut [[T; I]; O],
                b: &mut [T; O],
                x: &[T; I],
                delta: &[T; O],
                step: T,
            ) {
                $crate::kernel::portable::sgd($isa, w, b, x, delta, step)
            }

            #[$attribute]
            unsafe fn gemm<T: $crate::Scalar, const I: usize, const O: usize>(
                w: &[[T; I]; O],
                b: &[T; O],
                xs: &[[T; I]],
                zs: &mut [[T; O]],
            ) {
                $crate::kernel::portable::gemm($isa, w, b, xs, zs)
            }

            #[$attribute]
            unsafe fn gemm_t<T: $crate::Scalar, const I: usize, const O: usize>(
                w: &[[T; I]; O],
                deltas: &[[T; O]],
                dxs: &mut [[T; I]],
            ) {
                $crate::kernel::portable::gemm_t($isa, w, deltas, dxs)
            }

            #[$attribute]
            unsafe fn gemm_outer<T: $crate::Scalar, const I: usize, const O: usize>(
                grad: &mut [[T; I]; O],
                grad_b: &mut [T; O],
                xs: &[[T; I]],
                deltas: &[[T; O]],
                sgd: Option<$crate::kernel::common::Sgd<'_, T, I, O>>,
            ) {
                $crate::kernel::portable::gemm_outer($isa, grad, grad_b, xs, deltas, sgd)
            }

            #[$attribute]
            unsafe fn rank_update<T: $crate::Scalar, const I: usize, const O: usize>(
                w: &mut [[T; I]; O],
                xs: &[[T; I]],
                steps: &[[T; O]],
            ) {
                $crate::kernel::portable::rank_update($isa, w, xs, steps)
            }
        }
    };
}
// For `x86::Avx2`, in the builds that have it.
#[cfg(all(feature = "std", target_arch = "x86_64", not(target_feature = "avx2")))]
pub(super) use exact_kernels;

/// The exact kernels inlined into the caller: calls of fewer than
/// [`OUTLINE_MIN`](super::OUTLINE_MIN) multiply-adds.
pub(super) struct Portable;
exact_kernels!(Portable, #[inline(always)], super::lanes::baseline());

/// The exact kernels in a function of their own, never inlined: their register tile then
/// compiles the same whatever the caller.
pub(super) struct Outlined;
exact_kernels!(Outlined, #[inline(never)], super::lanes::baseline());

/// `$kernel(lanes, operands...)` on the lanes of `T` that `$isa` provides: its `f32` lanes, each
/// operand viewed as `f32` data by the `view` function named beside it, when `T` is `f32`; else
/// [`Array`] lanes of `T`, the operands as they are.
macro_rules! on_lanes {
    ($isa:expr, $t:ty, $kernel:ident::<$i:ident, $o:ident>($($arg:expr => $view:ident),* $(,)?)) => {
        if const { <$t as Scalar>::TAG == 4 } {
            // SAFETY: `T` is `f32` (its tag is 4), as `view` requires.
            unsafe { $kernel::<f32, _, $i, $o>($isa.f32(), $(view::$view($arg)),*) }
        } else {
            $kernel::<$t, _, $i, $o>(Array::new(), $($arg),*)
        }
    };
}
use on_lanes;

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

/// `bias + Σ a_i b_i` on the baseline lanes of the build (see [`affine_dot`](super::affine_dot)).
#[inline(always)]
pub(super) fn affine_dot<T: Scalar, const N: usize>(bias: T, a: &[T; N], b: &[T; N]) -> T {
    let (a, b) = (core::array::from_ref(a), core::array::from_ref(b));
    if const { T::TAG == 4 } {
        // SAFETY: `T` is `f32` (its tag is 4), as `view` requires.
        unsafe {
            let (a, b, bias) = (view::of(a), view::of(b), [view::scalar(bias)]);
            let [[sum]] = dot_tile::<f32, _, N, 1, 1>(super::lanes::baseline().f32(), a, b, &bias);
            return view::value(sum);
        }
    }
    dot_tile::<T, _, N, 1, 1>(Array::new(), a, b, &[bias])[0][0]
}

/// The affine maps of `S` vectors by `R` rows, `out[s][r] = bias[r] + xs[s] · rows[r]`, each dot
/// product in 8 lanes (`S ≤ 4`, `R ≤ 8`): a tile of `S · R` accumulator vectors, reduced, then
/// added to the bias. A plain dot product has the bias `-0.0`, the identity of addition.
///
/// Below one chunk (`I < 8`), the bias instead joins lane 0's one product, `(b + w_0 x_0) + …`, so
/// that it does not wait for the reduction: the 2-2-1 forward pass is then as short as the
/// hand-written `b + w_0 x_0 + w_1 x_1`. From one chunk on, the bias comes after the reduction.
/// Either way the order depends on `I` alone, so one sample gives the same bits alone or in a
/// batch.
#[inline(always)]
pub(super) fn dot_tile<T: Scalar, L: Lanes<T = T>, const I: usize, const S: usize, const R: usize>(
    l: L,
    xs: &[[T; I]; S],
    rows: &[[T; I]; R],
    bias: &[T; R],
) -> [[T; R]; S] {
    let mut out = [[T::ZERO; R]; S];
    // Shorter than one chunk: each lane holds one product (`-0.0 + w_k x_k` is `w_k x_k` exactly),
    // so the products go straight into the reduction, with no accumulator (on a core without
    // SIMD, LLVM kept an accumulator array in memory).
    if I < LANES {
        unroll!((s, r) < (S, R), [0 1 2 3 4 5 6 7], {
            out[s][r] = reduce::<T, I>(|k| {
                let product = rows[r][k] * xs[s][k];
                if k == 0 { bias[r] + product } else { product }
            });
        });
        return out;
    }
    let mut acc = [[l.splat(-T::ZERO); R]; S];
    // Chunks are taken from each array where they are used (not kept in an array of slices), so
    // that their lengths stay constants and no index needs a check.
    for c in 0..I / LANES {
        let mut x = l.splat(T::ZERO);
        unroll!((s, r) < (S, R), [0 1 2 3 4 5 6 7], {
            if r == 0 {
                x = l.load(&xs[s].as_chunks::<LANES>().0[c]);
            }
            let w = l.load(&rows[r].as_chunks::<LANES>().0[c]);
            acc[s][r] = l.mul_add(acc[s][r], w, x);
        });
    }
    if !I.is_multiple_of(LANES) {
        // The elements past the last chunk, as one more chunk padded with products of exactly
        // `-0.0` (a weight of `-0.0` times an input of `+0.0`), which leave every lane's sum as it
        // is, whatever it is.
        let mut x = l.splat(T::ZERO);
        unroll!((s, r) < (S, R), [0 1 2 3 4 5 6 7], {
            if r == 0 {
                let tail = xs[s].as_chunks::<LANES>().1;
                x = l.load(&core::array::from_fn(|k| if k < I % LANES { tail[k] } else { T::ZERO }));
            }
            let tail = rows[r].as_chunks::<LANES>().1;
            let w = l.load(&core::array::from_fn(|k| if k < I % LANES { tail[k] } else { -T::ZERO }));
            acc[s][r] = l.mul_add(acc[s][r], w, x);
        });
    }
    unroll!((s, r) < (S, R), [0 1 2 3 4 5 6 7], {
        out[s][r] = bias[r] + l.reduce(acc[s][r]);
    });
    out
}

/// `z = W x + b` (see [`gemv`](super::gemv)).
#[inline(always)]
pub(super) fn gemv<T: Scalar, Y: Isa, const I: usize, const O: usize>(
    isa: Y,
    w: &[[T; I]; O],
    b: &[T; O],
    x: &[T; I],
    z: &mut [T; O],
) {
    on_lanes!(isa, T, gemv_on::<I, O>(w => of, b => of, x => of, z => of_mut))
}

/// [`gemv`] on lanes `l`: tiles of 8 rows, or of 4 where 8 rows of accumulators would not fit
/// in the registers.
#[inline(always)]
fn gemv_on<T: Scalar, L: Lanes<T = T>, const I: usize, const O: usize>(
    l: L,
    w: &[[T; I]; O],
    b: &[T; O],
    x: &[T; I],
    z: &mut [T; O],
) {
    if const { L::REGISTERS >= 2 * GEMV_ROWS } {
        gemv_rows::<T, L, I, O, GEMV_ROWS>(l, w, b, x, z)
    } else {
        gemv_rows::<T, L, I, O, { GEMV_ROWS / 2 }>(l, w, b, x, z)
    }
}

#[inline(always)]
fn gemv_rows<T: Scalar, L: Lanes<T = T>, const I: usize, const O: usize, const ROWS: usize>(
    l: L,
    w: &[[T; I]; O],
    b: &[T; O],
    x: &[T; I],
    z: &mut [T; O],
) {
    // Index loops over constant ranges here and below: see "Index loops" in `crate::scalar`.
    let (w_blocks, w_rest) = w.as_chunks::<ROWS>();
    let (b_blocks, b_rest) = b.as_chunks::<ROWS>();
    let (z_blocks, z_rest) = z.as_chunks_mut::<ROWS>();
    for k in 0..O / ROWS {
        [z_blocks[k]] = dot_tile::<T, L, I, 1, ROWS>(l, core::array::from_ref(x), &w_blocks[k], &b_blocks[k]);
    }
    for k in 0..O % ROWS {
        let (w, b) = (core::array::from_ref(&w_rest[k]), core::array::from_ref(&b_rest[k]));
        z_rest[k] = dot_tile::<T, L, I, 1, 1>(l, core::array::from_ref(x), w, b)[0][0];
    }
}

/// The two 8-lane halves of a block of [`COLS`] columns.
#[inline(always)]
fn halves<L: Lanes>(l: L, a: &[L::T; COLS]) -> [L::V; 2] {
    let (chunks, _) = a.as_chunks::<LANES>();
    [l.load(&chunks[0]), l.load(&chunks[1])]
}

/// Stores [`halves`] into a block of [`COLS`] columns.
#[inline(always)]
fn store_halves<L: Lanes>(l: L, v: [L::V; 2], a: &mut [L::T; COLS]) {
    let (chunks, _) = a.as_chunks_mut::<LANES>();
    l.store(v[0], &mut chunks[0]);
    l.store(v[1], &mut chunks[1]);
}

/// `dx = Wᵀ delta` and `grad = delta xᵀ` (see [`backward`](super::backward)).
#[inline(always)]
pub(super) fn backward<T: Scalar, Y: Isa, const I: usize, const O: usize>(
    isa: Y,
    w: &[[T; I]; O],
    grad: &mut [[T; I]; O],
    x: &[T; I],
    delta: &[T; O],
    dx: &mut [T; I],
    accumulate: bool,
) {
    on_lanes!(isa, T, backward_on::<I, O>(
        w => of, grad => of_mut, x => of, delta => of, dx => of_mut, accumulate => value,
    ))
}

#[inline(always)]
fn backward_on<T: Scalar, L: Lanes<T = T>, const I: usize, const O: usize>(
    l: L,
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
        let x = halves(l, &x.as_chunks::<COLS>().0[c]);
        let mut acc = [l.splat(-T::ZERO); 2];
        for o in 0..O {
            let (w, g) =
                (halves(l, &w[o].as_chunks::<COLS>().0[c]), &mut grad[o].as_chunks_mut::<COLS>().0[c]);
            let d = l.splat(delta[o]);
            let mut grad = [l.mul(d, x[0]), l.mul(d, x[1])];
            if accumulate {
                let old = halves(l, g);
                grad = [l.add(old[0], grad[0]), l.add(old[1], grad[1])];
            }
            store_halves(l, grad, g);
            acc = [l.mul_add(acc[0], d, w[0]), l.mul_add(acc[1], d, w[1])];
        }
        store_halves(l, acc, &mut dx.as_chunks_mut::<COLS>().0[c]);
    }
    if !I.is_multiple_of(COLS) {
        // The columns past the last full chunk, all at once, rows outer (see `backward_sgd`).
        let x = x.as_chunks::<COLS>().1;
        let mut acc = [-T::ZERO; COLS];
        for o in 0..O {
            let (w, g, d) = (w[o].as_chunks::<COLS>().1, grad[o].as_chunks_mut::<COLS>().1, delta[o]);
            for k in 0..I % COLS {
                acc[k] += d * w[k];
                g[k] = if accumulate { g[k] + d * x[k] } else { d * x[k] };
            }
        }
        dx.as_chunks_mut::<COLS>().1.copy_from_slice(&acc[..I % COLS]);
    }
}

/// `dx = Wᵀ delta`, then `W += step · delta xᵀ` (see [`backward_sgd`](super::backward_sgd)).
#[inline(always)]
pub(super) fn backward_sgd<T: Scalar, Y: Isa, const I: usize, const O: usize>(
    isa: Y,
    w: &mut [[T; I]; O],
    x: &[T; I],
    delta: &[T; O],
    step: T,
    dx: &mut [T; I],
) {
    on_lanes!(isa, T, backward_sgd_on::<I, O>(w => of_mut, x => of, delta => of, step => value, dx => of_mut))
}

#[inline(always)]
fn backward_sgd_on<T: Scalar, L: Lanes<T = T>, const I: usize, const O: usize>(
    l: L,
    w: &mut [[T; I]; O],
    x: &[T; I],
    delta: &[T; O],
    step: T,
    dx: &mut [T; I],
) {
    for c in 0..I / COLS {
        let x = halves(l, &x.as_chunks::<COLS>().0[c]);
        let mut acc = [l.splat(-T::ZERO); 2];
        for o in 0..O {
            let w = &mut w[o].as_chunks_mut::<COLS>().0[c];
            let old = halves(l, w);
            let scaled = l.splat(step * delta[o]);
            let d = l.splat(delta[o]);
            acc = [l.mul_add(acc[0], d, old[0]), l.mul_add(acc[1], d, old[1])];
            store_halves(l, [l.mul_add(old[0], scaled, x[0]), l.mul_add(old[1], scaled, x[1])], w);
        }
        store_halves(l, acc, &mut dx.as_chunks_mut::<COLS>().0[c]);
    }
    if !I.is_multiple_of(COLS) {
        // The columns past the last full chunk, all at once: rows outer, one accumulator per
        // column, each summed over the rows in order as before. A loop per column would read
        // every row once per column, and make each column's sum one chain of dependent adds.
        let x = x.as_chunks::<COLS>().1;
        let mut acc = [-T::ZERO; COLS];
        for o in 0..O {
            let (w, d) = (w[o].as_chunks_mut::<COLS>().1, delta[o]);
            let scaled = step * d;
            for k in 0..I % COLS {
                acc[k] += d * w[k];
                w[k] += scaled * x[k];
            }
        }
        dx.as_chunks_mut::<COLS>().1.copy_from_slice(&acc[..I % COLS]);
    }
}

/// `grad = delta xᵀ`, row by row (see [`outer`](fn@super::outer)).
#[inline(always)]
pub(super) fn outer<T: Scalar, Y: Isa, const I: usize, const O: usize>(
    isa: Y,
    grad: &mut [[T; I]; O],
    x: &[T; I],
    delta: &[T; O],
    accumulate: bool,
) {
    on_lanes!(isa, T, outer_on::<I, O>(grad => of_mut, x => of, delta => of, accumulate => value))
}

#[inline(always)]
fn outer_on<T: Scalar, L: Lanes<T = T>, const I: usize, const O: usize>(
    l: L,
    grad: &mut [[T; I]; O],
    x: &[T; I],
    delta: &[T; O],
    accumulate: bool,
) {
    for o in 0..O {
        row(l, accumulate, delta[o], x, &mut grad[o]);
    }
}

/// `W += step · delta xᵀ` and `b += step · delta`, row by row (see [`sgd`](super::sgd)). Each
/// bias is updated with its row: a separate loop over the biases left LLVM a longer chain of
/// shuffles to merge the updates of a small layer into one vector store.
#[inline(always)]
pub(super) fn sgd<T: Scalar, Y: Isa, const I: usize, const O: usize>(
    isa: Y,
    w: &mut [[T; I]; O],
    b: &mut [T; O],
    x: &[T; I],
    delta: &[T; O],
    step: T,
) {
    on_lanes!(isa, T, sgd_on::<I, O>(w => of_mut, b => of_mut, x => of, delta => of, step => value))
}

#[inline(always)]
fn sgd_on<T: Scalar, L: Lanes<T = T>, const I: usize, const O: usize>(
    l: L,
    w: &mut [[T; I]; O],
    b: &mut [T; O],
    x: &[T; I],
    delta: &[T; O],
    step: T,
) {
    for_rows_to_update(w, b, delta, step, |w, b, scaled| {
        row(l, true, scaled, x, w);
        *b += scaled;
    });
}

/// `g = d · x`, or `g += d · x` (`g + (d · x)`), over a whole row: 8 lanes at a time, the rest
/// one by one.
#[inline(always)]
fn row<T: Scalar, L: Lanes<T = T>, const N: usize>(l: L, accumulate: bool, d: T, x: &[T; N], g: &mut [T; N]) {
    let (x_chunks, x_rest) = x.as_chunks::<LANES>();
    let (g_chunks, g_rest) = g.as_chunks_mut::<LANES>();
    let dv = l.splat(d);
    for k in 0..N / LANES {
        let (g, product) = (&mut g_chunks[k], l.mul(dv, l.load(&x_chunks[k])));
        l.store(if accumulate { l.add(l.load(g), product) } else { product }, g);
    }
    for k in 0..N % LANES {
        let (g, x) = (&mut g_rest[k], x_rest[k]);
        *g = if accumulate { *g + d * x } else { d * x };
    }
}

pub(super) use batch::{gemm, gemm_outer, gemm_t, rank_update};
