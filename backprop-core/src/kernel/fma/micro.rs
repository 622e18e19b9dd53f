//! The micro-kernels of the FMA kernels (see [`Micro`]), each compiled with its vectors'
//! instructions.

use super::super::outer::OuterTile;
use super::super::wide::{Fused, YmmPair, Zmm};
use super::backward;

/// The micro-kernels, the loops inside a kernel's loops, on the vectors `Self`: each in a function
/// of its own compiled with the vectors' instructions (`#[target_feature]`, through `micro!`), so
/// it runs at full speed whether or not LLVM inlines it into its caller. Written over [`Wide`]
/// and `#[inline(always)]`, a whole kernel would otherwise be one function, and a build without
/// optimisations (which shares no stack slot between inlined calls) gave it a frame of over 200
/// kB: more than the 256 KiB stacks of `tests/boxed.rs` could spare.
///
/// # Safety (every method)
///
/// That of the function of the same name it runs: [`dot_tile`](super::dot_tile), `backward::transpose_cols`,
/// `backward::gemm_t_tile`.
///
/// [`Wide`]: super::super::wide::Wide
pub(super) trait Micro: Fused + OuterTile {
    /// [`dot_tile`](super::dot_tile).
    unsafe fn dot_tile<const I: usize, const S: usize, const R: usize>(
        self,
        xs: [*const f32; S],
        rows: [*const f32; R],
        shift: Option<usize>,
        bias: [f32; R],
    ) -> [[f32; R]; S];

    /// `backward::transpose_cols`.
    #[allow(clippy::too_many_arguments)] // a kernel's operands
    unsafe fn transpose_cols<const I: usize, const O: usize, const C: usize, const MASKED: bool>(
        self,
        w: *mut f32,
        rows: backward::Rows,
        x: &[f32; I],
        delta: &[f32; O],
        dx: &mut [f32; I],
        c0: usize,
    );

    /// `backward::gemm_t_tile`.
    unsafe fn gemm_t_tile<
        const I: usize,
        const O: usize,
        const S: usize,
        const C: usize,
        const MASKED: bool,
    >(
        self,
        w: &[[f32; I]; O],
        deltas: [&[f32; O]; S],
        dxs: [*mut f32; S],
        c0: usize,
    );
}

/// [`Micro`] for the token `$token`, each micro-kernel in a function compiled with
/// `#[target_feature(enable = $feature)]`.
macro_rules! micro {
    ($token:ty, $feature:literal) => {
        // SAFETY (every `unsafe` block below): the method's contract, which is the function's;
        // the CPU has the features, since a token exists (its contract).
        impl Micro for $token {
            #[inline(always)]
            unsafe fn dot_tile<const I: usize, const S: usize, const R: usize>(
                self,
                xs: [*const f32; S],
                rows: [*const f32; R],
                shift: Option<usize>,
                bias: [f32; R],
            ) -> [[f32; R]; S] {
                #[target_feature(enable = $feature)]
                #[inline]
                unsafe fn go<const I: usize, const S: usize, const R: usize>(
                    f: $token,
                    xs: [*const f32; S],
                    rows: [*const f32; R],
                    shift: Option<usize>,
                    bias: [f32; R],
                ) -> [[f32; R]; S] {
                    unsafe { super::dot_tile::<$token, I, S, R>(f, xs, rows, shift, bias) }
                }
                unsafe { go::<I, S, R>(self, xs, rows, shift, bias) }
            }

            #[inline(always)]
            unsafe fn transpose_cols<const I: usize, const O: usize, const C: usize, const MASKED: bool>(
                self,
                w: *mut f32,
                rows: backward::Rows,
                x: &[f32; I],
                delta: &[f32; O],
                dx: &mut [f32; I],
                c0: usize,
            ) {
                #[target_feature(enable = $feature)]
                #[inline]
                unsafe fn go<const I: usize, const O: usize, const C: usize, const MASKED: bool>(
                    f: $token,
                    w: *mut f32,
                    rows: backward::Rows,
                    x: &[f32; I],
                    delta: &[f32; O],
                    dx: &mut [f32; I],
                    c0: usize,
                ) {
                    unsafe {
                        backward::transpose_cols::<$token, I, O, C, MASKED>(f, w, rows, x, delta, dx, c0)
                    }
                }
                unsafe { go::<I, O, C, MASKED>(self, w, rows, x, delta, dx, c0) }
            }

            #[inline(always)]
            unsafe fn gemm_t_tile<
                const I: usize,
                const O: usize,
                const S: usize,
                const C: usize,
                const MASKED: bool,
            >(
                self,
                w: &[[f32; I]; O],
                deltas: [&[f32; O]; S],
                dxs: [*mut f32; S],
                c0: usize,
            ) {
                #[target_feature(enable = $feature)]
                #[inline]
                unsafe fn go<
                    const I: usize,
                    const O: usize,
                    const S: usize,
                    const C: usize,
                    const MASKED: bool,
                >(
                    f: $token,
                    w: &[[f32; I]; O],
                    deltas: [&[f32; O]; S],
                    dxs: [*mut f32; S],
                    c0: usize,
                ) {
                    unsafe { backward::gemm_t_tile::<$token, I, O, S, C, MASKED>(f, w, deltas, dxs, c0) }
                }
                unsafe { go::<I, O, S, C, MASKED>(self, w, deltas, dxs, c0) }
            }
        }
    };
}

micro!(Zmm, "avx512f");
micro!(YmmPair, "avx2,fma");
