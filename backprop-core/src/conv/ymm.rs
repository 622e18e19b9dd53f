//! The `f32` vectors of the convolution kernels on `x86_64`, eight lanes in a 256-bit register:
//!
//! - [`Avx`]: the exact arithmetic (a rounded `vmulps`, then a rounded `vaddps`; masked loads),
//!   the same bits as [`Exact`] lane by lane. The exact backends run it for `f32` where AVX2 is
//!   there (compiled with it, or chosen at run time): LLVM's vectorisation of the generic arrays
//!   packed the wrong lanes together in the weight-gradient tiles, and spilled them.
//! - `Fused` (the `fma` feature): one fused multiply-add per lane, masked loads with AVX-512VL `k`
//!   registers, 32 registers.
//!
//! A vector of either type exists only inside a kernel compiled with the target features its
//! instructions need (`#[target_feature]` on the backend's function, or the build's), which the
//! backend choice runs only on CPUs that have them: that is the safety argument of every `unsafe`
//! block below, and why every method is `#[inline(always)]` (it is compiled as part of such a
//! kernel).

use super::lanes::{ALL, Exact, LANES, Vector, first, inside};
use core::arch::x86_64::*;

/// `Vector<f32>` for a `__m256` newtype: what both types share, with their arithmetic, masked
/// load and masked store given as closures over the raw vectors (called in place).
macro_rules! ymm_vector {
    (
        $name:ident,
        budget: $budget:expr,
        madd: $madd:expr,
        load_masked: $load_masked:expr,
        store_masked: $store_masked:expr $(,)?
    ) => {
        impl Vector<f32> for $name {
            const REGISTERS: usize = 1;
            const BUDGET: usize = $budget;

            #[inline(always)]
            fn splat(v: f32) -> Self {
                // SAFETY: see the module documentation.
                Self(unsafe { _mm256_set1_ps(v) })
            }

            #[inline(always)]
            fn load(src: &[f32], off: usize, s: usize) -> Option<Self> {
                if s != 1 {
                    let v = <Exact<f32> as Vector<f32>>::load(src, off, s)?;
                    // SAFETY: see the module documentation; `v.0` is 8 readable `f32`.
                    return Some(Self(unsafe { _mm256_loadu_ps(v.0.as_ptr()) }));
                }
                let chunk = src.get(off..off.wrapping_add(LANES))?;
                // SAFETY: see the module documentation; `chunk` is 8 readable `f32`.
                Some(Self(unsafe { _mm256_loadu_ps(chunk.as_ptr()) }))
            }

            #[inline(always)]
            fn load_masked(src: &[f32], off: usize, s: usize, m: u8) -> Self {
                if s != 1 {
                    let v = <Exact<f32> as Vector<f32>>::load_masked(src, off, s, m);
                    // SAFETY: see the module documentation; `v.0` is 8 readable `f32`.
                    return Self(unsafe { _mm256_loadu_ps(v.0.as_ptr()) });
                }
                let within = src.len() >= LANES && off <= src.len() - LANES;
                let m = if within { m } else { inside(m, off, 1, src.len()) };
                // The lanes of `m` are elements of `src`; a masked load reads no other lane (nor
                // faults on it), so the start may lie outside `src`.
                let p: *const f32 = src.as_ptr().wrapping_add(off);
                Self(($load_masked)(p, m))
            }

            #[inline(always)]
            fn madd(self, a: Self, b: Self) -> Self {
                Self(($madd)(self.0, a.0, b.0))
            }

            #[inline(always)]
            fn store(self, dst: &mut [f32]) {
                let m = first(dst.len());
                if m == ALL {
                    // SAFETY: see the module documentation; `dst` has 8 writable `f32`.
                    unsafe { _mm256_storeu_ps(dst.as_mut_ptr(), self.0) };
                } else {
                    // The lanes of `m` are elements of `dst`, and no other lane is written.
                    let p: *mut f32 = dst.as_mut_ptr();
                    ($store_masked)(p, m, self.0);
                }
            }

            #[inline(always)]
            fn sum(self) -> f32 {
                // SAFETY: see the module documentation.
                unsafe {
                    // (l0 + l4, l1 + l5, l2 + l6, l3 + l7), then ((l0 + l4) + (l2 + l6), ..), then
                    // the last pair: the order of `Exact::sum`.
                    let v = self.0;
                    let halves = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps::<1>(v));
                    let quarters = _mm_add_ps(halves, _mm_movehl_ps(halves, halves));
                    _mm_cvtss_f32(_mm_add_ss(quarters, _mm_shuffle_ps::<1>(quarters, quarters)))
                }
            }
        }
    };
}

/// Eight `f32` lanes with the exact arithmetic, in AVX2 (see the module documentation).
#[derive(Clone, Copy)]
pub(super) struct Avx(__m256);

/// The lanes of `m` as a vector mask (all ones in a lane of `m`, zeros elsewhere).
#[inline(always)]
fn lanes(m: u8) -> __m256i {
    // SAFETY: see the module documentation.
    unsafe {
        let bits = _mm256_setr_epi32(1, 2, 4, 8, 16, 32, 64, 128);
        _mm256_cmpeq_epi32(_mm256_and_si256(_mm256_set1_epi32(i32::from(m)), bits), bits)
    }
}

ymm_vector! {
    Avx,
    budget: if cfg!(target_feature = "avx512f") { 32 } else { 16 },
    // SAFETY (every closure): see the module documentation; the masked accesses touch the lanes
    // of their mask only.
    madd: |acc, a, b| unsafe { _mm256_add_ps(acc, _mm256_mul_ps(a, b)) },
    load_masked: |p, m| unsafe { _mm256_maskload_ps(p, lanes(m)) },
    store_masked: |p, m, v| unsafe { _mm256_maskstore_ps(p, lanes(m), v) },
}

#[cfg(feature = "fma")]
pub(super) use fused::Fused;

/// The `fma` feature's vectors.
#[cfg(feature = "fma")]
mod fused {
    use super::super::lanes::{ALL, Exact, LANES, Vector, first, inside};
    use core::arch::x86_64::*;

    /// Eight `f32` lanes with fused multiply-adds and AVX-512VL masked loads (see the module
    /// documentation).
    #[derive(Clone, Copy)]
    pub(in crate::conv) struct Fused(__m256);

    ymm_vector! {
        Fused,
        budget: 32,
        // SAFETY (every closure): see the module documentation; the masked accesses touch the
        // lanes of their mask only.
        madd: |acc, a, b| unsafe { _mm256_fmadd_ps(a, b, acc) },
        load_masked: |p, m| unsafe { _mm256_maskz_loadu_ps(m, p) },
        store_masked: |p, m, v| unsafe { _mm256_mask_storeu_ps(p, m, v) },
    }
}
