//! The exact kernels with AVX on `x86_64`, two ways, both the same bits as the portable code:
//!
//! - [`Avx2`] (with `std`, in builds without AVX2 at compile time): the exact kernels compiled
//!   with AVX2 enabled, chosen at run time when the CPU has it (`backend::choose`).
//! - [`reduce8`] and [`row`] (in builds with AVX at compile time, `-C target-cpu=...`): the
//!   reduction of short rows in registers and the row updates written out in 8-lane vectors,
//!   which the portable kernels call for `f32` (see "Reduction in registers" and "Row updates
//!   written out" in [`kernel`](super)).

/// The exact kernels compiled for AVX2, each in a function of its own: the same code as
/// [`Outlined`](super::portable::Outlined), for CPUs that have AVX2 when the build does not
/// assume it.
#[cfg(all(feature = "std", not(target_feature = "avx2")))]
pub(super) struct Avx2;
#[cfg(all(feature = "std", not(target_feature = "avx2")))]
super::portable::exact_kernels!(Avx2, #[target_feature(enable = "avx2")]);

/// Rows at most this long reduce their tile with [`reduce8`] in builds with AVX.
#[cfg(target_feature = "avx")]
pub(super) const AVX_REDUCE_MAX: usize = 8 * super::LANES;

#[cfg(target_feature = "avx")]
use core::arch::x86_64::*;

/// `portable::outer_row`: `g = d · x`, or `g += d · x` (`g + (d · x)`, rounded twice, as the
/// portable loop), 8 lanes at a time, the rest one by one.
#[cfg(target_feature = "avx")]
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

/// [`reduce`](super::portable::reduce) of 8 lanes, in its order: `((l0 + l4) + (l2 + l6)) + ((l1 +
/// l5) + (l3 + l7))`, as adds of the two halves, then of the two quarters, then of the two lanes.
#[cfg(target_feature = "avx")]
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
