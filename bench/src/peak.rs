//! The single-precision FMA peak of this core, measured rather than taken from a data sheet.
//!
//! Each kernel runs [`CHAINS`] independent dependency chains `acc = acc · m + c` of fused
//! multiply-adds over [`ITERS`] iterations, all in registers, with no load or store. A chain
//! issues one FMA per FMA-latency, so with `CHAINS ≥ latency × pipes` (4 cycles × 2 pipes on
//! Zen 4 and most recent x86 cores) every FMA pipe is busy every cycle. `m` is just below one and
//! `c` small, so the values stay normal (no denormal slow path) and finite.
//!
//! - [`fma_avx2`]: 256-bit `vfmadd` (`_mm256_fmadd_ps`, 8 lanes). On Zen 4 this is the peak: two
//!   256-bit FMA pipes.
//! - [`fma_avx512`]: 512-bit `vfmadd` (`_mm512_fmadd_ps`, 16 lanes; with the crate feature
//!   `avx512`). Zen 4 splits each into two
//!   256-bit halves, so it reaches the same flops per cycle, not twice; cores with two full-width
//!   512-bit units (Intel server parts, Zen 5) double the peak.
//! - [`fma_portable`]: `f32::mul_add` on arrays, for targets without the x86 kernels.
//!
//! The report takes the fastest as the peak. A flop is one lane of a multiply or an add: one FMA
//! lane is 2 flops.
//!
//! Two more kernels measure ceilings rather than the peak. [`gemm_loop_avx512`]: the inner loop of
//! the `fma` feature's batched `W x` (a tile of 4 samples × 4 rows: 8 aligned 512-bit loads per 16
//! FMAs, 16 chains) on data that stays in L1, what a kernel of that shape reaches on this core
//! before any cache miss. And [`unfused_avx2`], chains of a separate
//! multiply and add (`_mm256_mul_ps` then `_mm256_add_ps`, the shape of a dot product's inner
//! loop: `acc += x · c`, `x` loaded from memory), which is all the crate's
//! kernels use (exact IEEE arithmetic in a fixed order, no fusion; see `backprop_core::kernel`).
//! On Zen 4 it reaches the FMA peak (two multiply and two add pipes); on an Intel Golden Cove
//! core, whose three 256-bit FP ports do at most 1.5 multiply-add pairs per cycle against two
//! 512-bit FMAs, it cannot pass 37.5% of the peak, and the report says where it stands.

use core::hint::black_box;

/// Independent FMA chains per kernel.
pub const CHAINS: usize = 12;

/// Iterations of each kernel call (each runs every chain once).
pub const ITERS: usize = 1 << 14;

/// Flops of one call of a kernel with `lanes` `f32` lanes per vector.
pub const fn flops(lanes: usize) -> f64 {
    (CHAINS * lanes * 2 * ITERS) as f64
}

/// The multiplier and addend of the chains: the values converge to `c / (1 - m) = 1`.
const M: f32 = 0.999_9;
const C: f32 = 1.0e-4;
/// The value every product of [`unfused_avx2`] multiplies by `C`.
const UNFUSED_X: f32 = 0.75;

/// 256-bit FMAs in [`CHAINS`] chains; `None` when the CPU lacks AVX2 and FMA (or is not x86_64).
/// [`flops`]`(8)` per call.
pub fn fma_avx2(seed: f32) -> Option<f32> {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") {
        // SAFETY: the CPU has AVX2 and FMA (checked just above).
        return Some(unsafe { x86::fma256(seed) });
    }
    let _ = seed;
    None
}

/// 512-bit FMAs in [`CHAINS`] chains; `None` when the CPU lacks AVX-512F, is not x86_64, or the
/// crate's `avx512` feature is off. [`flops`]`(16)` per call.
pub fn fma_avx512(seed: f32) -> Option<f32> {
    #[cfg(all(target_arch = "x86_64", feature = "avx512"))]
    if std::arch::is_x86_feature_detected!("avx512f") {
        // SAFETY: the CPU has AVX-512F (checked just above).
        return Some(unsafe { x86::fma512(seed) });
    }
    let _ = seed;
    None
}

/// 256-bit multiplies and adds, unfused (`acc += x · c`, two roundings, `x` loaded from memory
/// as in a dot product), in [`CHAINS`] chains: the ceiling of the crate's exact kernels on this
/// core. `None` when the CPU lacks AVX2 (or is not x86_64). [`flops`]`(8)` per call, as for
/// [`fma_avx2`].
pub fn unfused_avx2(seed: f32) -> Option<f32> {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU has AVX2 (checked just above).
        return Some(unsafe { x86::unfused256(seed) });
    }
    let _ = seed;
    None
}

/// Chunks of 16 floats in each row and sample of [`gemm_loop_avx512`] (a 768-input layer).
pub const LOOP_CHUNKS: usize = 48;

/// Passes of [`gemm_loop_avx512`] over its tile per call.
pub const LOOP_PASSES: usize = 64;

/// Flops of one call of [`gemm_loop_avx512`]: 16 dot products of [`LOOP_CHUNKS`] × 16 lanes,
/// [`LOOP_PASSES`] times.
pub const LOOP_FLOPS: f64 = (LOOP_PASSES * 16 * LOOP_CHUNKS * 16 * 2) as f64;

/// The operands of [`gemm_loop_avx512`]: 4 samples and 4 rows of [`LOOP_CHUNKS`] 64-byte chunks
/// (24 kB, within any L1 of a core with AVX-512).
#[repr(C, align(64))]
pub struct LoopTile {
    xs: [[[f32; 16]; LOOP_CHUNKS]; 4],
    rows: [[[f32; 16]; LOOP_CHUNKS]; 4],
}

impl LoopTile {
    /// Values in `[0, 1)`, on the heap (aligned to 64 bytes).
    pub fn boxed() -> Box<Self> {
        let value = |k: usize| ((k * 7919) % 1000) as f32 * 1e-3;
        let mut tile =
            Box::new(LoopTile { xs: [[[0.0; 16]; LOOP_CHUNKS]; 4], rows: [[[0.0; 16]; LOOP_CHUNKS]; 4] });
        tile.xs.as_flattened_mut().as_flattened_mut().iter_mut().enumerate().for_each(|(k, v)| *v = value(k));
        tile.rows
            .as_flattened_mut()
            .as_flattened_mut()
            .iter_mut()
            .enumerate()
            .for_each(|(k, v)| *v = value(k + 1));
        tile
    }

    /// The sum of every lane of [`gemm_loop_avx512`]'s 16 accumulators, in `f64`.
    pub fn expected(&self) -> f64 {
        let dot = |x: &[[f32; 16]; LOOP_CHUNKS], w: &[[f32; 16]; LOOP_CHUNKS]| -> f64 {
            x.as_flattened().iter().zip(w.as_flattened()).map(|(&x, &w)| f64::from(x) * f64::from(w)).sum()
        };
        let tile: f64 = self.xs.iter().flat_map(|x| self.rows.iter().map(move |w| dot(x, w))).sum();
        tile * LOOP_PASSES as f64
    }
}

/// The `fma` feature's batched `W x` inner loop on `tile` (see the module docs), [`LOOP_PASSES`]
/// times; the sum of all its accumulators' lanes. `None` when the CPU lacks AVX-512F, is not
/// x86_64, or the crate's `avx512` feature is off. [`LOOP_FLOPS`] per call.
pub fn gemm_loop_avx512(tile: &LoopTile) -> Option<f32> {
    #[cfg(all(target_arch = "x86_64", feature = "avx512"))]
    if std::arch::is_x86_feature_detected!("avx512f") {
        // SAFETY: the CPU has AVX-512F (checked just above).
        return Some(unsafe { x86::gemm_loop512(tile) });
    }
    let _ = tile;
    None
}

/// Lanes of the portable kernel's vectors.
pub const PORTABLE_LANES: usize = 8;

/// [`CHAINS`] chains of [`PORTABLE_LANES`]-wide `f32::mul_add`: what the compiler makes of it for
/// the target (a software `fmaf` call per lane without hardware FMA). [`flops`]`(8)` per call.
pub fn fma_portable(seed: f32) -> f32 {
    let mut acc = [[0.0f32; PORTABLE_LANES]; CHAINS];
    for (k, chain) in acc.iter_mut().enumerate() {
        *chain = [seed + k as f32; PORTABLE_LANES];
    }
    let (m, c) = (black_box(M), black_box(C));
    for _ in 0..ITERS {
        for chain in &mut acc {
            for v in chain.iter_mut() {
                *v = v.mul_add(m, c);
            }
        }
    }
    acc.as_flattened().iter().sum()
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use core::arch::x86_64::*;
    use core::hint::black_box;

    use super::{C, CHAINS, ITERS, M, UNFUSED_X};

    #[target_feature(enable = "avx2,fma")]
    pub(super) fn fma256(seed: f32) -> f32 {
        let mut acc: [__m256; CHAINS] = core::array::from_fn(|k| _mm256_set1_ps(seed + k as f32));
        let m = _mm256_set1_ps(black_box(M));
        let c = _mm256_set1_ps(black_box(C));
        for _ in 0..ITERS {
            for a in &mut acc {
                *a = _mm256_fmadd_ps(*a, m, c);
            }
        }
        sum256(&acc)
    }

    /// No `fma` in the enabled features, so nothing can fuse the multiply and the add. Shaped
    /// like the kernels' inner loops, `acc += x · m` with `x` loaded from memory (a volatile
    /// load, so the loop-invariant product cannot be hoisted): only the add is on each chain.
    #[target_feature(enable = "avx2")]
    pub(super) fn unfused256(seed: f32) -> f32 {
        let mut acc: [__m256; CHAINS] = core::array::from_fn(|k| _mm256_set1_ps(seed + k as f32));
        let xs: [__m256; CHAINS] = [_mm256_set1_ps(UNFUSED_X); CHAINS];
        let m = _mm256_set1_ps(black_box(C));
        for _ in 0..ITERS {
            for (a, x) in acc.iter_mut().zip(&xs) {
                // SAFETY: `x` is a reference to an initialised, aligned vector.
                let x = unsafe { core::ptr::read_volatile(x) };
                *a = _mm256_add_ps(*a, _mm256_mul_ps(x, m));
            }
        }
        sum256(&acc)
    }

    /// The sum of every lane of every chain: all the work reaches the result, so none of it can
    /// be dropped.
    #[target_feature(enable = "avx")]
    fn sum256(acc: &[__m256; CHAINS]) -> f32 {
        let mut sum = acc[0];
        for &a in &acc[1..] {
            sum = _mm256_add_ps(sum, a);
        }
        let half = _mm_add_ps(_mm256_castps256_ps128(sum), _mm256_extractf128_ps::<1>(sum));
        let pairs = _mm_add_ps(half, _mm_movehl_ps(half, half));
        _mm_cvtss_f32(_mm_add_ss(pairs, _mm_shuffle_ps::<1>(pairs, pairs)))
    }

    /// [`super::gemm_loop_avx512`]: per chunk, the 4 samples' vectors, then each row's and its 4
    /// multiply-adds, as the `fma` kernel's `step` does.
    #[cfg(feature = "avx512")]
    #[target_feature(enable = "avx512f")]
    pub(super) fn gemm_loop512(tile: &super::LoopTile) -> f32 {
        let mut acc = [_mm512_setzero_ps(); 16];
        for _ in 0..super::LOOP_PASSES {
            let tile = black_box(tile);
            for v in 0..super::LOOP_CHUNKS {
                // SAFETY: each chunk is 16 floats on a 64-byte boundary (`LoopTile`'s alignment).
                let x: [__m512; 4] =
                    core::array::from_fn(|s| unsafe { _mm512_load_ps(tile.xs[s][v].as_ptr()) });
                for r in 0..4 {
                    // SAFETY: as above.
                    let w = unsafe { _mm512_load_ps(tile.rows[r][v].as_ptr()) };
                    for s in 0..4 {
                        acc[s * 4 + r] = _mm512_fmadd_ps(w, x[s], acc[s * 4 + r]);
                    }
                }
            }
        }
        let mut sum = acc[0];
        for &a in &acc[1..] {
            sum = _mm512_add_ps(sum, a);
        }
        _mm512_reduce_add_ps(sum)
    }

    /// 512-bit FMAs in [`CHAINS`] chains (the crate feature `avx512`).
    #[cfg(feature = "avx512")]
    #[target_feature(enable = "avx512f")]
    pub(super) fn fma512(seed: f32) -> f32 {
        let mut acc: [__m512; CHAINS] = core::array::from_fn(|k| _mm512_set1_ps(seed + k as f32));
        let m = _mm512_set1_ps(black_box(M));
        let c = _mm512_set1_ps(black_box(C));
        for _ in 0..ITERS {
            for a in &mut acc {
                *a = _mm512_fmadd_ps(*a, m, c);
            }
        }
        let mut sum = acc[0];
        for &a in &acc[1..] {
            sum = _mm512_add_ps(sum, a);
        }
        _mm512_reduce_add_ps(sum)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every chain is `1 + mⁿ (x₀ - 1)` after `n` steps: the kernels compute what they claim,
    /// whichever of them runs here.
    #[test]
    fn kernels_agree_with_the_closed_form() {
        let seed = 0.5f32;
        let decay = f64::from(M).powi(ITERS as i32);
        let per_lane: f64 = (0..CHAINS).map(|k| 1.0 + decay * (f64::from(seed) + k as f64 - 1.0)).sum();
        let close = |got: f32, lanes: usize| {
            let want = per_lane * lanes as f64;
            assert!((f64::from(got) - want).abs() <= 1e-3 * want, "{got} vs {want}");
        };
        close(fma_portable(seed), PORTABLE_LANES);
        let tile = LoopTile::boxed();
        if let Some(v) = gemm_loop_avx512(&tile) {
            let want = tile.expected();
            assert!((f64::from(v) - want).abs() <= 1e-4 * want, "gemm loop: {v} vs {want}");
        }
        if let Some(v) = fma_avx2(seed) {
            close(v, 8);
        }
        // Unfused, every lane's sum is exactly the scalar f32 sequence (up to the final sum's order).
        if let Some(v) = unfused_avx2(seed) {
            let want: f64 = (0..CHAINS)
                .map(|k| {
                    let mut a = seed + k as f32;
                    for _ in 0..ITERS {
                        a += UNFUSED_X * C;
                    }
                    8.0 * f64::from(a)
                })
                .sum();
            assert!((f64::from(v) - want).abs() <= 1e-6 * want, "{v} vs {want}");
        }
        if let Some(v) = fma_avx512(seed) {
            close(v, 16);
        }
    }
}
