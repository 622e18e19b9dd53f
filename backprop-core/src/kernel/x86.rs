//! The exact kernels' vectors on `x86_64`, and the backends that run them with AVX2 and AVX-512:
//!
//! - [`Sse2`]: eight `f32` lanes as two 128-bit vectors. Every `x86_64` CPU has SSE2.
//! - [`Avx`]: eight `f32` lanes as one 256-bit vector, for the `Avx2` backend (with `std`, in
//!   builds without AVX2 at compile time, chosen at run time on CPUs that have it) and for builds
//!   with AVX enabled at compile time (`-C target-cpu=...`).
//!
//! Both compute what [`Array`](super::lanes::Array) computes, lane by lane, and reduce in its
//! order (tested bit for bit). On CPUs with AVX-512F and DQ, [`Avx512`] runs the batch kernels that
//! can keep those bits on 512-bit vectors.

// With AVX enabled at compile time, some intrinsics below are safe to call and their `unsafe`
// blocks unneeded; in other builds they are needed.
#![allow(unused_unsafe)]

use super::LANES;
use super::backend::Backend;
use super::common::view;
use super::lanes::{Isa, Lanes};
use super::outer;
use super::pairs;
use super::wide::ZmmExact;
use crate::Scalar;
use core::arch::x86_64::*;

/// The exact kernels compiled for AVX2, each in a function of its own, on [`Avx`] vectors: for
/// CPUs that have AVX2 when the build does not assume it.
#[cfg(all(feature = "std", not(target_feature = "avx2")))]
pub(super) struct Avx2;
#[cfg(all(feature = "std", not(target_feature = "avx2")))]
// SAFETY: the backend's functions run only on CPUs with AVX2 (the contract of `Backend`), which
// have AVX.
super::portable::exact_kernels!(Avx2, #[target_feature(enable = "avx2")], unsafe { Avx::new() });

/// `((l0 + l4) + (l2 + l6)) + ((l1 + l5) + (l3 + l7))` of `(l0 + l4, l1 + l5, l2 + l6, l3 + l7)`:
/// the quarters, then the two lanes.
#[inline(always)]
pub(super) fn reduce_halves(halves: __m128) -> f32 {
    // SAFETY: every `x86_64` CPU has SSE.
    unsafe {
        // ((l0 + l4) + (l2 + l6), (l1 + l5) + (l3 + l7), ..)
        let quarters = _mm_add_ps(halves, _mm_movehl_ps(halves, halves));
        _mm_cvtss_f32(_mm_add_ss(quarters, _mm_shuffle_ps::<1>(quarters, quarters)))
    }
}

/// Eight `f32` lanes in two SSE vectors, lanes `0..4` and `4..8`.
#[derive(Clone, Copy)]
#[cfg_attr(all(target_feature = "avx", not(test)), allow(dead_code))] // builds without AVX use it
pub(super) struct Sse2;

impl Isa for Sse2 {
    type F32 = Sse2;
    #[inline(always)]
    fn f32(self) -> Sse2 {
        self
    }
}

// SAFETY (every `unsafe` block below): every `x86_64` CPU has SSE and SSE2; loads and stores are
// of 8 `f32`s of an array.
impl Lanes for Sse2 {
    type T = f32;
    type V = (__m128, __m128);
    const REGISTERS: usize = 8;

    #[inline(always)]
    fn splat(self, v: f32) -> Self::V {
        let v = unsafe { _mm_set1_ps(v) };
        (v, v)
    }
    #[inline(always)]
    fn load(self, a: &[f32; LANES]) -> Self::V {
        unsafe { (_mm_loadu_ps(a.as_ptr()), _mm_loadu_ps(a.as_ptr().add(4))) }
    }
    #[inline(always)]
    fn store(self, v: Self::V, a: &mut [f32; LANES]) {
        unsafe {
            _mm_storeu_ps(a.as_mut_ptr(), v.0);
            _mm_storeu_ps(a.as_mut_ptr().add(4), v.1);
        }
    }
    #[inline(always)]
    fn add(self, a: Self::V, b: Self::V) -> Self::V {
        unsafe { (_mm_add_ps(a.0, b.0), _mm_add_ps(a.1, b.1)) }
    }
    #[inline(always)]
    fn sub(self, a: Self::V, b: Self::V) -> Self::V {
        unsafe { (_mm_sub_ps(a.0, b.0), _mm_sub_ps(a.1, b.1)) }
    }
    #[inline(always)]
    fn mul(self, a: Self::V, b: Self::V) -> Self::V {
        unsafe { (_mm_mul_ps(a.0, b.0), _mm_mul_ps(a.1, b.1)) }
    }
    #[inline(always)]
    fn reduce(self, v: Self::V) -> f32 {
        // (l0 + l4, l1 + l5, l2 + l6, l3 + l7)
        reduce_halves(unsafe { _mm_add_ps(v.0, v.1) })
    }
}

/// Eight `f32` lanes in one AVX vector. A value exists only where the CPU has AVX.
#[derive(Clone, Copy)]
pub(super) struct Avx(());

impl Avx {
    /// The token.
    ///
    /// # Safety
    ///
    /// The CPU that runs the code using it has AVX.
    #[inline(always)]
    #[cfg_attr(not(any(feature = "std", target_feature = "avx")), allow(dead_code))] // the AVX2 backend's
    pub(super) const unsafe fn new() -> Self {
        Self(())
    }
}

impl Isa for Avx {
    type F32 = Avx;
    #[inline(always)]
    fn f32(self) -> Avx {
        self
    }
}

// SAFETY (every `unsafe` block below): the CPU has AVX, since a value of `Avx` exists (its
// contract); loads and stores are of 8 `f32`s of an array.
impl Lanes for Avx {
    type T = f32;
    type V = __m256;
    const REGISTERS: usize = 16;

    #[inline(always)]
    fn splat(self, v: f32) -> __m256 {
        unsafe { _mm256_set1_ps(v) }
    }
    #[inline(always)]
    fn load(self, a: &[f32; LANES]) -> __m256 {
        unsafe { _mm256_loadu_ps(a.as_ptr()) }
    }
    #[inline(always)]
    fn store(self, v: __m256, a: &mut [f32; LANES]) {
        unsafe { _mm256_storeu_ps(a.as_mut_ptr(), v) }
    }
    #[inline(always)]
    fn add(self, a: __m256, b: __m256) -> __m256 {
        unsafe { _mm256_add_ps(a, b) }
    }
    #[inline(always)]
    fn sub(self, a: __m256, b: __m256) -> __m256 {
        unsafe { _mm256_sub_ps(a, b) }
    }
    #[inline(always)]
    fn mul(self, a: __m256, b: __m256) -> __m256 {
        unsafe { _mm256_mul_ps(a, b) }
    }
    #[inline(always)]
    fn reduce(self, v: __m256) -> f32 {
        // (l0 + l4, l1 + l5, l2 + l6, l3 + l7)
        reduce_halves(unsafe { _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps::<1>(v)) })
    }
}

/// The exact kernels below [`Avx512`]: those compiled for AVX2 when the build does not enable it
/// (every AVX-512 CPU has AVX2), else those of the build.
#[cfg(all(feature = "std", not(target_feature = "avx2")))]
type Below = Avx2;
/// The exact kernels below [`Avx512`] (see the other definition).
#[cfg(not(all(feature = "std", not(target_feature = "avx2"))))]
type Below = super::portable::Outlined;

/// The exact kernels on CPUs with AVX-512F and DQ: the batched outer products on 512-bit vectors
/// ([`ZmmExact`], 16 columns per vector, each product rounded, then added; see
/// [`outer`](fn@super::outer)), and `W x` on a batch two samples per vector ([`pairs`]), both the
/// bits of the 8-lane kernels; every other kernel is [`Below`]'s (one sample's dot products keep
/// their 8 lanes, whose order fixes their bits).
pub(super) struct Avx512;

/// `$method` of [`Backend`] as [`Below`]'s.
macro_rules! below {
    ($method:ident($($arg:ident: $ty:ty),*)) => {
        #[inline(always)]
        unsafe fn $method<T: Scalar, const I: usize, const O: usize>($($arg: $ty),*) {
            // SAFETY: the CPU has AVX-512F, so AVX2 (the contract of `Backend`).
            unsafe { Below::$method::<T, I, O>($($arg),*) }
        }
    };
}

// SAFETY (every `unsafe` block below): the contract of `Backend`: `T` is `f32` and the CPU has
// AVX-512F (`with_backend!` checks both), as `#[target_feature]`, the token and `view` require.
impl Backend for Avx512 {
    below!(gemv(w: &[[T; I]; O], b: &[T; O], x: &[T; I], z: &mut [T; O]));
    below!(backward(w: &[[T; I]; O], grad: &mut [[T; I]; O], x: &[T; I], delta: &[T; O], dx: &mut [T; I], accumulate: bool));
    below!(backward_sgd(w: &mut [[T; I]; O], x: &[T; I], delta: &[T; O], step: T, dx: &mut [T; I]));
    below!(outer(grad: &mut [[T; I]; O], x: &[T; I], delta: &[T; O], accumulate: bool));
    below!(sgd(w: &mut [[T; I]; O], b: &mut [T; O], x: &[T; I], delta: &[T; O], step: T));

    #[inline(always)]
    unsafe fn gemm<T: Scalar, const I: usize, const O: usize>(
        w: &[[T; I]; O],
        b: &[T; O],
        xs: &[[T; I]],
        zs: &mut [[T; O]],
    ) {
        if const { pairs::handles::<I>() } {
            // The pairs of samples on 512-bit vectors (same bits), an odd last one on `Below`.
            let done =
                unsafe { pairs::gemm::<I, O>(view::of(w), view::of(b), view::rows(xs), view::rows_mut(zs)) };
            unsafe { Below::gemm::<T, I, O>(w, b, &xs[done..], &mut zs[done..]) }
        } else {
            unsafe { Below::gemm::<T, I, O>(w, b, xs, zs) }
        }
    }
    below!(gemm_t(w: &[[T; I]; O], deltas: &[[T; O]], dxs: &mut [[T; I]]));

    outer::outer_methods!(ZmmExact::new(), "avx512f");
}
