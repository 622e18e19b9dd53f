//! Which code runs a kernel call: the one place that knows the backends and picks one.
//!
//! Every backend implements [`Backend`], the set of kernels behind the entry points of
//! [`kernel`](super). [`choose`] decides, from the scalar, the layer's sizes, the call's size and
//! the CPU, and [`with_backend!`] runs the entry point's call on the backend it chose. Adding a
//! backend (say NEON) is one type implementing [`Backend`] in a file of its own, and here its
//! [`Choice`], its branch in [`choose`] and its arm in [`with_backend!`].

use super::common::Sgd;
use crate::Scalar;

#[cfg(all(feature = "fma", target_arch = "x86_64"))]
pub(super) use super::fma::{Avx2Fma, Avx512Fma};
pub(super) use super::portable::{Outlined, Portable};
#[cfg(all(feature = "std", target_arch = "x86_64", not(target_feature = "avx2")))]
pub(super) use super::x86::Avx2;

/// The kernels behind the entry points of [`kernel`](super), with the same operands and the same
/// results (the entry points document them). [`Portable`], [`Outlined`] and `Avx2` run the exact
/// kernels, bit for bit the same; `Avx512Fma` and `Avx2Fma` the FMA kernels (the `fma` feature),
/// bit for bit the same as each other.
///
/// # Safety (every method)
///
/// The backend must be the one [`choose`] picks for the call: its instructions run on this CPU,
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

    /// [`outer`](super::outer).
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

/// What [`choose`] can pick in this build.
pub(super) enum Choice {
    /// [`Avx512Fma`]: the FMA kernels on 512-bit vectors.
    #[cfg(all(feature = "fma", target_arch = "x86_64"))]
    Avx512Fma,
    /// [`Avx2Fma`]: the FMA kernels on pairs of 256-bit vectors.
    #[cfg(all(feature = "fma", target_arch = "x86_64"))]
    Avx2Fma,
    /// [`Avx2`]: the exact kernels compiled for AVX2, in a function of their own.
    #[cfg(all(feature = "std", target_arch = "x86_64", not(target_feature = "avx2")))]
    Avx2,
    /// [`Outlined`]: the exact kernels as compiled, in a function of their own.
    Outlined,
    /// [`Portable`]: the exact kernels as compiled, inlined into the caller.
    Portable,
}

/// The backend of a call of an `I × O` layer of `T` that does `work` multiply-adds: the FMA
/// kernels when [`fused`] holds (on the CPU's `fma::path`); else the exact kernels, compiled for AVX2 when the CPU has it
/// and the build does not already enable it, in a function of their own from
/// [`OUTLINE_MIN`](super::OUTLINE_MIN) multiply-adds on, inlined below. Everything but the CPU
/// checks is a constant, so an entry point compiles to the branches it can take.
#[inline(always)]
#[cfg_attr(not(all(feature = "fma", target_arch = "x86_64")), allow(clippy::extra_unused_type_parameters))]
pub(super) fn choose<T: Scalar, const I: usize, const O: usize>(work: usize) -> Choice {
    #[cfg(all(feature = "fma", target_arch = "x86_64"))]
    if const { fused_size::<T, I, O>() } {
        match super::fma::path() {
            Some(super::fma::Path::Avx512) => return Choice::Avx512Fma,
            Some(super::fma::Path::Avx2) => return Choice::Avx2Fma,
            None => {}
        }
    }
    #[cfg(all(feature = "std", target_arch = "x86_64", not(target_feature = "avx2")))]
    if work >= super::OUTLINE_MIN && has_avx2() {
        return Choice::Avx2;
    }
    if work >= super::OUTLINE_MIN { Choice::Outlined } else { Choice::Portable }
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
const fn fused_size<T: Scalar, const I: usize, const O: usize>() -> bool {
    T::TAG == 4 && I * O >= super::FMA_MIN && I >= super::FMA_MIN_INPUTS
}

/// `true` when the kernels compiled for AVX2 may run (checked once, then cached by `std`).
#[cfg(all(feature = "std", target_arch = "x86_64", not(target_feature = "avx2")))]
#[inline(always)]
pub(crate) fn has_avx2() -> bool {
    std::is_x86_feature_detected!("avx2")
}

/// `with_backend!(T, I, O, work, B => call)`: `call` (a call of a [`Backend`] method on `B`) on
/// the backend that [`choose`] picks for an `I × O` layer of `T` and `work` multiply-adds.
macro_rules! with_backend {
    ($t:ty, $i:expr, $o:expr, $work:expr, $b:ident => $call:expr) => {{
        use $crate::kernel::backend::{self, Choice};
        // SAFETY (every arm): `choose` picked the backend for this call, as `Backend` requires.
        match backend::choose::<$t, $i, $o>($work) {
            #[cfg(all(feature = "fma", target_arch = "x86_64"))]
            Choice::Avx512Fma => {
                type $b = backend::Avx512Fma;
                unsafe { $call }
            }
            #[cfg(all(feature = "fma", target_arch = "x86_64"))]
            Choice::Avx2Fma => {
                type $b = backend::Avx2Fma;
                unsafe { $call }
            }
            #[cfg(all(feature = "std", target_arch = "x86_64", not(target_feature = "avx2")))]
            Choice::Avx2 => {
                type $b = backend::Avx2;
                unsafe { $call }
            }
            Choice::Outlined => {
                type $b = backend::Outlined;
                unsafe { $call }
            }
            Choice::Portable => {
                type $b = backend::Portable;
                unsafe { $call }
            }
        }
    }};
}
pub(super) use with_backend;
