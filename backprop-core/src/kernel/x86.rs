//! The exact kernels' vectors on `x86_64`, and the backend that runs them with AVX2:
//!
//! - [`Sse2`]: eight `f32` lanes as two 128-bit vectors. Every `x86_64` CPU has SSE2.
//! - [`Avx`]: eight `f32` lanes as one 256-bit vector, for the [`Avx2`] backend (with `std`, in
//!   builds without AVX2 at compile time, chosen at run time on CPUs that have it) and for builds
//!   with AVX enabled at compile time (`-C target-cpu=...`).
//!
//! Both compute what [`Array`](super::lanes::Array) computes, lane by lane, and reduce in its
//! order (tested bit for bit).

// With AVX enabled at compile time, some intrinsics below are safe to call and their `unsafe`
// blocks unneeded; in other builds they are needed.
#![allow(unused_unsafe)]

use super::LANES;
use super::lanes::{Isa, Lanes};
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
fn reduce_halves(halves: __m128) -> f32 {
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
