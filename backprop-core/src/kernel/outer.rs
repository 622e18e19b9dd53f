//! The batched outer products on 16 lanes ([`Wide`]): the weight gradients of a batch
//! ([`gemm_outer`], fused with the SGD step) and the deferred updates ([`rank_update`]), for the
//! `fma` feature's kernels (one rounding per multiply-add) and for the exact kernels on CPUs with
//! AVX-512F ([`ZmmExact`]: each product rounded, then added, as the exact kernels' 8 lanes do).
//!
//! Every lane is a column of its own: the sum of column `i` runs over the samples in order,
//! whichever lane and vector hold it, so 16 lanes give the 8-lane kernels' bits, and the chunks
//! may be counted from any offset (aligned to the matrix, see [`outer_tiles`]).

use super::common::{Sgd, outer_bias, outer_operands, view};
use super::wide::{LANES, Wide, ZmmExact, load, store, tail_bits};
use crate::Scalar;
use crate::kernel::unroll;

/// `Backend::gemm_outer` and `Backend::rank_update` of a backend whose outer products are this
/// module's on the token `$token` (an expression), compiled with `#[target_feature(enable =
/// $feature)]`. Expands inside `impl Backend for ...`, whose contract (`T` is `f32`, the CPU has
/// the features) its `unsafe` blocks rely on.
macro_rules! outer_methods {
    ($token:expr, $feature:literal) => {
        #[inline(always)]
        unsafe fn gemm_outer<T: $crate::Scalar, const I: usize, const O: usize>(
            grad: &mut [[T; I]; O],
            grad_b: &mut [T; O],
            xs: &[[T; I]],
            deltas: &[[T; O]],
            sgd: Option<$crate::kernel::common::Sgd<'_, T, I, O>>,
        ) {
            #[target_feature(enable = $feature)]
            #[inline(never)]
            fn run<const I: usize, const O: usize>(
                grad: &mut [[f32; I]; O],
                sgd: Option<(&mut [[f32; I]; O], f32, f32)>,
                xs: &[[f32; I]],
                deltas: &[[f32; O]],
            ) {
                $crate::kernel::outer::gemm_outer(unsafe { $token }, grad, sgd, xs, deltas)
            }
            // SAFETY: the contract of `Backend`, as `gemm_outer_by` requires.
            unsafe {
                $crate::kernel::outer::gemm_outer_by::<T, I, O>(run::<I, O>, grad, grad_b, xs, deltas, sgd)
            }
        }

        #[inline(always)]
        unsafe fn rank_update<T: $crate::Scalar, const I: usize, const O: usize>(
            w: &mut [[T; I]; O],
            xs: &[[T; I]],
            steps: &[[T; O]],
        ) {
            #[target_feature(enable = $feature)]
            #[inline(never)]
            fn run<const I: usize, const O: usize>(
                w: &mut [[f32; I]; O],
                xs: &[[f32; I]],
                steps: &[[f32; O]],
            ) {
                $crate::kernel::outer::rank_update(unsafe { $token }, w, xs, steps)
            }
            use $crate::kernel::common::view;
            // SAFETY: `T` is `f32` (the contract of `Backend`), as `view` requires.
            unsafe { run::<I, O>(view::of_mut(w), view::rows(xs), view::rows(steps)) }
        }
    };
}
pub(super) use outer_methods;

/// The weights' part of a [`gemm_outer`], compiled for some token's instructions.
pub(super) type OuterWeights<const I: usize, const O: usize> =
    unsafe fn(&mut [[f32; I]; O], Option<(&mut [[f32; I]; O], f32, f32)>, &[[f32; I]], &[[f32; O]]);

/// `Backend::gemm_outer` of a 16-lane backend: the weights by `weights` (its [`gemm_outer`]), the
/// biases by the exact loops, as in every build; as many samples as both `xs` and `deltas` hold.
///
/// # Safety
///
/// `T` is `f32`, and the CPU has the instructions `weights` is compiled for.
#[inline(always)]
pub(super) unsafe fn gemm_outer_by<T: Scalar, const I: usize, const O: usize>(
    weights: OuterWeights<I, O>,
    grad: &mut [[T; I]; O],
    grad_b: &mut [T; O],
    xs: &[[T; I]],
    deltas: &[[T; O]],
    sgd: Option<Sgd<'_, T, I, O>>,
) {
    let (xs, deltas, w, biases) = outer_operands(xs, deltas, sgd);
    // SAFETY: `T` is `f32` (the caller's), as `view` requires; the CPU runs `weights`.
    unsafe {
        let w = w.map(|(w, scale, lr)| (view::of_mut(w), view::scalar(scale), view::scalar(lr)));
        weights(view::of_mut(grad), w, view::rows(xs), view::rows(deltas));
    }
    outer_bias(grad_b, deltas, biases)
}

/// The weights' part of [`kernel::gemm_outer`](crate::kernel::gemm_outer) and
/// [`kernel::gemm_outer_sgd`](crate::kernel::gemm_outer_sgd): `grad += Σ_s deltas[s] xs[s]ᵀ`, or
/// with `sgd = Some((w, scale, lr))`, `grad = scale · Σ` and `W = W - lr · grad`. The sums run
/// over the samples in order (`acc + d · x` from `-0.0`, see [`Wide::mul_add`]); `xs` and
/// `deltas` have the same length.
#[inline(always)]
pub(super) fn gemm_outer<F: OuterTile, const I: usize, const O: usize>(
    f: F,
    grad: &mut [[f32; I]; O],
    sgd: Option<(&mut [[f32; I]; O], f32, f32)>,
    xs: &[[f32; I]],
    deltas: &[[f32; O]],
) {
    let mode = match sgd {
        None => Mode::Add,
        Some((w, scale, lr)) => Mode::Sgd(w.as_flattened_mut().as_mut_ptr(), scale, lr),
    };
    // SAFETY: `grad` (and `w`) are `O` rows of `I`, writable.
    unsafe { outer_products::<F, I, O>(f, grad.as_flattened_mut().as_mut_ptr(), mode, xs, deltas) }
}

/// [`kernel::rank_update`](crate::kernel::rank_update): `W = W + steps[s][o] · xs[s][i]` for
/// every sample in order, as [`kernel::sgd`](crate::kernel::sgd) once per sample would, with `W`
/// read and written once; `xs` and `steps` have the same length.
#[inline(always)]
pub(super) fn rank_update<F: OuterTile, const I: usize, const O: usize>(
    f: F,
    w: &mut [[f32; I]; O],
    xs: &[[f32; I]],
    steps: &[[f32; O]],
) {
    // SAFETY: `w` is `O` rows of `I`, writable.
    unsafe { outer_products::<F, I, O>(f, w.as_flattened_mut().as_mut_ptr(), Mode::Update, xs, steps) }
}

/// What [`outer_products`] does with each tile's sums `Σ_s d_s x_sᵀ` and the matrix it is given.
#[derive(Clone, Copy)]
pub(super) enum Mode {
    /// `grad += Σ`.
    Add,
    /// `grad = scale · Σ`, `w = w - lr · grad` (`w`, `scale`, `lr`).
    Sgd(*mut f32, f32, f32),
    /// The sums start from the matrix itself, not from `-0.0`: `w = w + d_s · x_s` sample after
    /// sample.
    Update,
}

/// The batched outer products over `O` rows of `I` at `target`, in tiles of 4 rows × 4 chunks
/// of 16 columns (4 × 1 on AVX2; see [`Mode`]).
///
/// # Safety
///
/// `target` (and the weights of [`Mode::Sgd`]) are `O` rows of `I` `f32`s, writable.
#[inline(always)]
unsafe fn outer_products<F: OuterTile, const I: usize, const O: usize>(
    f: F,
    target: *mut f32,
    mode: Mode,
    xs: &[[f32; I]],
    deltas: &[[f32; O]],
) {
    // SAFETY: the caller's.
    unsafe {
        if const { F::REGISTERS >= 32 } {
            outer_tiles::<F, I, O, 4, 4>(f, target, mode, xs, deltas)
        } else {
            outer_tiles::<F, I, O, 4, 1>(f, target, mode, xs, deltas)
        }
    }
}

/// Where the columns of an [`outer_tile`] are: its first chunk of sample 0's inputs at `x`, the
/// next sample's `stride` floats further; in the rows, chunk `chunk` counted from `shift` floats
/// before each row's start (the chunks of the rows and of `x` hold the same columns).
#[derive(Clone, Copy)]
pub(super) struct Cols<M> {
    x: *const f32,
    stride: usize,
    chunk: usize,
    shift: usize,
    /// The lanes of a masked tile's one chunk that are columns of the rows.
    mask: M,
}

/// The samples whose columns [`outer_tiles`] copies to an aligned buffer: a batch tile.
const OUTER_PACK: usize = crate::kernel::BATCH_TILE;

/// `C` chunks of one sample's inputs, starting on a 64-byte boundary.
#[repr(C, align(64))]
struct Block<const C: usize>([[f32; LANES]; C]);

/// [`outer_products`] in tiles of `R` rows × `C` chunks, a block of columns of every sample
/// outer and the rows inner: the block (32 × 256 bytes) stays in L1 while the tiles of `W` and
/// its gradient stream by once.
///
/// Aligned loads and stores, as the `fma` kernels' `dot_tile`'s: when every row starts `m` floats
/// past a 64-byte boundary (`I` a multiple of 16) and the samples fit [`OUTER_PACK`], the chunks
/// are counted from `m` floats before each row, so that every chunk of the matrix the tile reads
/// and writes (`W` in [`Mode::Sgd`], else `target`) is one cache line, not two; the first and last
/// chunks are masked. Each block of full chunks of the samples is first copied to a buffer at the
/// same offset. A column's sum is its own lane's, over the samples in order, whichever lane holds
/// it: the same bits as unaligned chunks, wherever the data lies.
///
/// # Safety
///
/// As [`outer_products`].
#[inline(always)]
unsafe fn outer_tiles<F: OuterTile, const I: usize, const O: usize, const R: usize, const C: usize>(
    f: F,
    target: *mut f32,
    mode: Mode,
    xs: &[[f32; I]],
    deltas: &[[f32; O]],
) {
    let n = xs.len();
    let aligned_to = match mode {
        Mode::Sgd(w, ..) => w.cast_const(),
        Mode::Add | Mode::Update => target.cast_const(),
    };
    let packed = I.is_multiple_of(LANES) && n <= OUTER_PACK;
    let m = if packed { aligned_to as usize / size_of::<f32>() % LANES } else { 0 };
    // The chunks that lie within the rows: `full`; the partial ones at either end, masked.
    let first = usize::from(m != 0);
    let full = first..(I + m) / LANES;
    let blocked = full.start..full.end - full.len() % C;
    let x0 = xs.as_ptr().cast::<f32>().wrapping_sub(m);
    let unpacked = |chunk: usize, mask: u32| Cols {
        x: x0.wrapping_add(chunk * LANES),
        stride: I,
        chunk,
        shift: m,
        mask: f.mask(mask),
    };
    let mut buffer = [const { core::mem::MaybeUninit::<Block<C>>::uninit() }; OUTER_PACK];
    // SAFETY: the matrices are `O` rows of `I`, writable (the caller's); the rows below are all
    // `< O`, the chunks within the rows or masked to their columns; the buffer's blocks are
    // written before they are read.
    unsafe {
        for c in blocked.clone().step_by(C) {
            let cols = if packed {
                for (x, block) in xs.iter().zip(&mut buffer) {
                    let from = x.as_ptr().add(c * LANES - m);
                    core::ptr::copy_nonoverlapping(from, block.as_mut_ptr().cast::<f32>(), C * LANES);
                }
                Cols { x: buffer.as_ptr().cast::<f32>(), stride: C * LANES, ..unpacked(c, 0) }
            } else {
                unpacked(c, 0)
            };
            for o in (0..O - O % R).step_by(R) {
                f.outer_tile::<I, O, R, C, false>(target, mode, cols, deltas, o);
            }
            for o in O - O % R..O {
                f.outer_tile::<I, O, 1, C, false>(target, mode, cols, deltas, o);
            }
        }
        for c in blocked.end..full.end {
            outer_column::<F, I, O, false>(f, target, mode, unpacked(c, 0), deltas);
        }
        if m != 0 {
            outer_column::<F, I, O, true>(f, target, mode, unpacked(0, 0xffff << m), deltas);
        }
        if !(I + m).is_multiple_of(LANES) {
            let tail = unpacked(full.end, tail_bits(I + m));
            outer_column::<F, I, O, true>(f, target, mode, tail, deltas);
        }
    }
}

/// The tiles of one chunk of columns (a masked end, or a full chunk left over from the blocks of
/// `C`), every row: 16 rows at a time on 32 registers, then 4, then one. A tile of 4 rows × 1
/// chunk would keep only 4 multiply-add chains in flight, too few to cover the units' latency
/// (two units of 4 cycles need 8); each column's sums are the same whatever the tile.
///
/// # Safety
///
/// As [`outer_tile`], for every row.
#[inline(always)]
unsafe fn outer_column<F: OuterTile, const I: usize, const O: usize, const MASKED: bool>(
    f: F,
    target: *mut f32,
    mode: Mode,
    cols: Cols<F::M>,
    deltas: &[[f32; O]],
) {
    let mut o = 0;
    // SAFETY: the caller's; every tile's rows are below `O`.
    unsafe {
        if const { F::REGISTERS >= 32 } {
            while o + 16 <= O {
                f.outer_tile::<I, O, 16, 1, MASKED>(target, mode, cols, deltas, o);
                o += 16;
            }
        }
        while o + 4 <= O {
            f.outer_tile::<I, O, 4, 1, MASKED>(target, mode, cols, deltas, o);
            o += 4;
        }
        while o < O {
            f.outer_tile::<I, O, 1, 1, MASKED>(target, mode, cols, deltas, o);
            o += 1;
        }
    }
}

/// Rows `o0 .. o0 + R`, the `C` chunks of `cols` of [`outer_products`] (its micro-kernel).
///
/// # Safety
///
/// As [`outer_products`]; the rows lie within the matrices, `cols` holds `deltas.len()` samples'
/// chunks, readable, and its chunks of the rows lie within them (with `MASKED`, `C = 1` and the
/// lanes of `cols.mask` do).
#[inline(always)]
pub(super) unsafe fn outer_tile<
    F: Wide,
    const I: usize,
    const O: usize,
    const R: usize,
    const C: usize,
    const MASKED: bool,
>(
    f: F,
    target: *mut f32,
    mode: Mode,
    cols: Cols<F::M>,
    deltas: &[[f32; O]],
    o0: usize,
) {
    let Cols { x, stride, chunk, shift, mask } = cols;
    let row = |p: *mut f32, r: usize| p.wrapping_add((o0 + r) * I).wrapping_sub(shift);
    let mut acc = [[f.splat(-0.0); C]; R];
    if let Mode::Update = mode {
        for r in 0..R {
            for k in 0..C {
                // SAFETY: row `o0 + r` and the chunk lie within `target` (the caller's).
                acc[r][k] = unsafe { load::<F, MASKED>(f, row(target, r), chunk + k, mask) };
            }
        }
    }
    let mut x = x;
    for d in deltas {
        // Unrolled: the tile stays in registers at every opt-level (see `unroll!`).
        let mut xv = [f.zero(); C];
        unroll!(k < C, [0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15], {
            // SAFETY: the sample's chunks are readable (the caller's).
            xv[k] = unsafe { load::<F, MASKED>(f, x, k, mask) };
        });
        let mut dv = f.zero();
        unroll!((r, k) < (R, C), [0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15], {
            if k == 0 {
                dv = f.splat(d[o0 + r]);
            }
            acc[r][k] = f.mul_add(dv, xv[k], acc[r][k]);
        });
        x = x.wrapping_add(stride);
    }
    for r in 0..R {
        for k in 0..C {
            // SAFETY: row `o0 + r` and the chunk lie within `target` and `w` (the caller's).
            unsafe {
                let g = row(target, r);
                match mode {
                    Mode::Add => {
                        let sum = f.add(load::<F, MASKED>(f, g, chunk + k, mask), acc[r][k]);
                        store::<F, MASKED>(f, g, chunk + k, mask, sum);
                    }
                    Mode::Sgd(w, scale, lr) => {
                        let mean = f.mul(acc[r][k], f.splat(scale));
                        store::<F, MASKED>(f, g, chunk + k, mask, mean);
                        let w = row(w, r);
                        let updated =
                            f.neg_mul_add(f.splat(lr), mean, load::<F, MASKED>(f, w, chunk + k, mask));
                        store::<F, MASKED>(f, w, chunk + k, mask, updated);
                    }
                    Mode::Update => store::<F, MASKED>(f, g, chunk + k, mask, acc[r][k]),
                }
            }
        }
    }
}

/// [`outer_tile`] on the vectors `Self`, in a function of its own compiled with their
/// instructions (`#[target_feature]`, through `outer_tile!`), so that it runs at full speed
/// whether or not LLVM inlines it into its caller (see `fma::micro::Micro`, which needs it too).
pub(super) trait OuterTile: Wide {
    /// [`outer_tile`].
    ///
    /// # Safety
    ///
    /// That of [`outer_tile`].
    unsafe fn outer_tile<const I: usize, const O: usize, const R: usize, const C: usize, const MASKED: bool>(
        self,
        target: *mut f32,
        mode: Mode,
        cols: Cols<Self::M>,
        deltas: &[[f32; O]],
        o0: usize,
    );
}

/// [`OuterTile`] for the token `$token`, compiled with `#[target_feature(enable = $feature)]`.
macro_rules! outer_tile {
    ($token:ty, $feature:literal) => {
        // SAFETY: the method's contract, which is the function's; the CPU has the features, since
        // a token exists (its contract).
        impl OuterTile for $token {
            #[inline(always)]
            unsafe fn outer_tile<
                const I: usize,
                const O: usize,
                const R: usize,
                const C: usize,
                const MASKED: bool,
            >(
                self,
                target: *mut f32,
                mode: Mode,
                cols: Cols<<$token as Wide>::M>,
                deltas: &[[f32; O]],
                o0: usize,
            ) {
                #[target_feature(enable = $feature)]
                #[inline]
                unsafe fn go<
                    const I: usize,
                    const O: usize,
                    const R: usize,
                    const C: usize,
                    const MASKED: bool,
                >(
                    f: $token,
                    target: *mut f32,
                    mode: Mode,
                    cols: Cols<<$token as Wide>::M>,
                    deltas: &[[f32; O]],
                    o0: usize,
                ) {
                    unsafe { outer_tile::<$token, I, O, R, C, MASKED>(f, target, mode, cols, deltas, o0) }
                }
                unsafe { go::<I, O, R, C, MASKED>(self, target, mode, cols, deltas, o0) }
            }
        }
    };
}

outer_tile!(ZmmExact, "avx512f");
#[cfg(feature = "fma")]
outer_tile!(super::wide::Zmm, "avx512f");
#[cfg(feature = "fma")]
outer_tile!(super::wide::YmmPair, "avx2,fma");
