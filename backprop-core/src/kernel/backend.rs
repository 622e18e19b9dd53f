//! Which code runs a kernel call: the one place that knows the backends and picks one.
//!
//! Every backend implements [`Backend`], the set of kernels behind the entry points of
//! [`kernel`](super). [`with_backend!`] decides, from the scalar, the layer's sizes, the call's
//! size and the CPU, and runs the entry point's call on the backend it chose. Adding a backend
//! (say NEON) is one type implementing [`Backend`] in a file of its own, and here its branch in
//! [`with_backend!`].

use super::common::Sgd;
use crate::Scalar;

#[cfg(all(feature = "fma", target_arch = "x86_64"))]
pub(super) use super::fma::{Avx2Fma, Avx512Fma};
pub(super) use super::portable::{Outlined, Portable};
#[cfg(all(feature = "std", target_arch = "x86_64", not(target_feature = "avx2")))]
pub(super) use super::x86::Avx2;
#[cfg(target_arch = "x86_64")]
pub(super) use super::x86::Avx512;

/// The kernels behind the entry points of [`kernel`](super), with the same operands and the same
/// results (the entry points document them). [`Portable`], [`Outlined`] and `Avx2` run the exact
/// kernels, bit for bit the same; `Avx512Fma` and `Avx2Fma` the FMA kernels (the `fma` feature),
/// bit for bit the same as each other.
///
/// # Safety (every method)
///
/// The backend must be the one [`with_backend!`] picks for the call: its instructions run on this CPU,
/// and for `Avx512Fma` and `Avx2Fma`, `T` is `f32`.
pub(super) trait Backend {
    /// [`gemv`](super::gemv).
    unsafe fn gemv<T: Scalar, const I: usize, const O: usize>(
        w: &[[T; I]; O],
        b: &[T; O],
        x: &[T; I],
        z: &mut [T; O],
    );

    /// [`backward`](super::backward).
    unsafe fn backward<T: Scalar, const I: usize, const O: usize>(
        w: &[[T; I]; O],
        grad: &mut [[T; I]; O],
        x: &[T; I],
        delta: &[T; O],
        dx: &mut [T; I],
        accumulate: bool,
    );

    /// [`backward_sgd`](super::backward_sgd).
    unsafe fn backward_sgd<T: Scalar, const I: usize, const O: usize>(
        w: &mut [[T; I]; O],
        x: &[T; I],
        delta: &[T; O],
        step: T,
        dx: &mut [T; I],
    );

    /// [`outer`](fn@super::outer).
    unsafe fn outer<T: Scalar, const I: usize, const O: usize>(
        grad: &mut [[T; I]; O],
        x: &[T; I],
        delta: &[T; O],
        accumulate: bool,
    );

    /// [`sgd`](super::sgd).
    unsafe fn sgd<T: Scalar, const I: usize, const O: usize>(
        w: &mut [[T; I]; O],
        b: &mut [T; O],
        x: &[T; I],
        delta: &[T; O],
        step: T,
    );

    /// [`gemm`](super::gemm).
    unsafe fn gemm<T: Scalar, const I: usize, const O: usize>(
        w: &[[T; I]; O],
        b: &[T; O],
        xs: &[[T; I]],
        zs: &mut [[T; O]],
    );

    /// [`gemm_t`](super::gemm_t).
    unsafe fn gemm_t<T: Scalar, const I: usize, const O: usize>(
        w: &[[T; I]; O],
        deltas: &[[T; O]],
        dxs: &mut [[T; I]],
    );

    /// [`gemm_outer`](super::gemm_outer), or with `sgd`, [`gemm_outer_sgd`](super::gemm_outer_sgd).
    unsafe fn gemm_outer<T: Scalar, const I: usize, const O: usize>(
        grad: &mut [[T; I]; O],
        grad_b: &mut [T; O],
        xs: &[[T; I]],
        deltas: &[[T; O]],
        sgd: Option<Sgd<'_, T, I, O>>,
    );

    /// [`rank_update`](super::rank_update) of at least two samples.
    unsafe fn rank_update<T: Scalar, const I: usize, const O: usize>(
        w: &mut [[T; I]; O],
        xs: &[[T; I]],
        steps: &[[T; O]],
    );
}

/// `true` when the kernels of an `I × O` layer of `T` are the FMA ones (see
/// [`FMA_MIN`](super::FMA_MIN) and [`FMA_MIN_INPUTS`](super::FMA_MIN_INPUTS)): `T` is `f32`, the
/// layer is big enough and its rows long enough, the `fma` feature is on and the CPU has AVX-512F,
/// or AVX2 and FMA (`fma::path`).
#[cfg(all(feature = "fma", target_arch = "x86_64"))]
#[cfg_attr(not(test), allow(dead_code))] // the tests' question; `choose` asks its parts
#[inline(always)]
pub(super) fn fused<T: Scalar, const I: usize, const O: usize>() -> bool {
    fused_size::<T, I, O>() && super::fma::path().is_some()
}

/// The part of [`fused`] known at compile time: `T` is `f32`, the layer big enough and its rows
/// long enough.
#[cfg(all(feature = "fma", target_arch = "x86_64"))]
pub(super) const fn fused_size<T: Scalar, const I: usize, const O: usize>() -> bool {
    T::TAG == 4 && I * O >= super::FMA_MIN && I >= super::FMA_MIN_INPUTS
}

/// `true` when the exact kernels on 512-bit vectors may run: the CPU has AVX-512F and DQ (checked once,
/// then cached by `std`; without it, what the build enables), and `BACKPROP_EXACT=avx2` is not
/// set (read once, with `std`: the 256-bit exact kernels then run everywhere, for tests and
/// benchmarks; the bits are the same).
#[cfg(target_arch = "x86_64")]
#[inline(always)]
pub(crate) fn has_avx512() -> bool {
    #[cfg(feature = "std")]
    {
        use core::sync::atomic::{AtomicU8, Ordering};
        static AVX512: AtomicU8 = AtomicU8::new(0);
        match AVX512.load(Ordering::Relaxed) {
            0 => {
                let forced_avx2 = std::env::var_os("BACKPROP_EXACT").is_some_and(|v| v == "avx2");
                let avx512 = std::is_x86_feature_detected!("avx512f")
                    && std::is_x86_feature_detected!("avx512dq")
                    && !forced_avx2;
                AVX512.store(if avx512 { 2 } else { 1 }, Ordering::Relaxed);
                avx512
            }
            code => code == 2,
        }
    }
    #[cfg(not(feature = "std"))]
    {
        cfg!(all(target_feature = "avx512f", target_feature = "avx512dq"))
    }
}

/// `true` when the kernels compiled for AVX2 may run (checked once, then cached by `std`).
#[cfg(all(feature = "std", target_arch = "x86_64", not(target_feature = "avx2")))]
#[inline(always)]
pub(crate) fn has_avx2() -> bool {
    std::is_x86_feature_detected!("avx2")
}

/// `with_backend!(T, I, O, work, B => call)`: `call` (a call of a [`Backend`] method on `B`) on
/// the backend for an `I × O` layer of `T` and `work` multiply-adds (a constant expression of the
/// entry point's generics): the FMA kernels when `fused` holds (on the CPU's `fma::path`); else
/// the exact kernels, compiled for AVX2 when the CPU has it and the build does not already enable
/// it, in a function of their own from [`OUTLINE_MIN`](super::OUTLINE_MIN) multiply-adds on,
/// inlined below.
///
/// Every condition but the CPU checks is a `const` block, so an entry point compiles to the
/// backends it can take, in a debug build too (where a branch on a runtime value, even one
/// that always goes the same way, compiles both sides).
macro_rules! with_backend {
    ($t:ty, $i:expr, $o:expr, $work:expr, $b:ident => $call:expr) => {{
        use $crate::kernel::backend;
        // SAFETY (every branch): the conditions above it hold, as `Backend` requires.
        #[allow(unused_labels)] // builds without the run-time branches never break early
        let result = 'backend: {
            #[cfg(all(feature = "fma", target_arch = "x86_64"))]
            if const { backend::fused_size::<$t, $i, $o>() } {
                match $crate::kernel::fma::path() {
                    Some($crate::kernel::fma::Path::Avx512) => {
                        type $b = backend::Avx512Fma;
                        break 'backend unsafe { $call };
                    }
                    Some($crate::kernel::fma::Path::Avx2) => {
                        type $b = backend::Avx2Fma;
                        break 'backend unsafe { $call };
                    }
                    None => {}
                }
            }
            #[cfg(target_arch = "x86_64")]
            if const { <$t as $crate::Scalar>::TAG == 4 && $work >= $crate::kernel::OUTLINE_MIN }
                && backend::has_avx512()
            {
                type $b = backend::Avx512;
                break 'backend unsafe { $call };
            }
            #[cfg(all(feature = "std", target_arch = "x86_64", not(target_feature = "avx2")))]
            if const { $work >= $crate::kernel::OUTLINE_MIN } && backend::has_avx2() {
                type $b = backend::Avx2;
                break 'backend unsafe { $call };
            }
            if const { $work >= $crate::kernel::OUTLINE_MIN } {
                type $b = backend::Outlined;
                unsafe { $call }
            } else {
                type $b = backend::Portable;
                unsafe { $call }
            }
        };
        result
    }};
}
pub(super) use with_backend;
