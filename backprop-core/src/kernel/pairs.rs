//! The exact kernels' batched `W x` on 512-bit vectors (CPUs with AVX-512F and DQ): two samples
//! per vector, each in 8 lanes.
//!
//! A dot product of the exact kernels is 8 lanes, lane `k` summing the products of the indices
//! `k mod 8` in order from `-0.0` (each product rounded, then added), reduced in a fixed tree,
//! then added to the bias (see `portable::dot_tile`). Sixteen lanes of one sample would change
//! that order; two samples of 8 lanes each keep it. So the samples of a tile are first copied in
//! pairs, chunk by chunk (`Pair`): sample `a`'s 8 inputs of chunk `c` in lanes `0..8`, sample
//! `b`'s in `8..16`, the last chunk padded with `+0.0`; a chunk of a row of `W` is broadcast to
//! both halves (one load, `vbroadcastf32x8`). A tile is 2 pairs × 8 rows: 16 accumulators, 10
//! loads per 16 multiplies and 16 adds (the arithmetic, on two ports, takes 16 cycles), and the
//! copies of a tile's 4 samples take 4 `I` floats of stack: 12.5 kB for 784 inputs (tiles of 4
//! pairs × 4 rows would take twice that, more than the 192 KiB stack of the `mnist` example can
//! spare). Each half reduces as the 8-lane kernels do, so every output is bit for bit theirs
//! (tested).

// AVX-512 intrinsics are stable since Rust 1.89, the workspace's minimum.
#![allow(unused_unsafe)]

use super::x86::reduce_halves;
use super::{LANES, PACK_MAX};
use crate::kernel::unroll;
use core::arch::x86_64::*;
use core::mem::MaybeUninit;

/// Pairs of samples in a tile.
const PAIRS: usize = 2;
/// Rows of `W` in a tile.
const ROWS: usize = 8;

/// Two samples' inputs interleaved by chunks of 8 (see the module), 64-byte aligned: `2 I` floats
/// and 16 more hold the `I.div_ceil(8)` chunks of 16.
#[repr(C, align(64))]
struct Pair<const I: usize>([[f32; I]; 2], [f32; 16]);

impl<const I: usize> Pair<I> {
    /// Copies `a` and `b` into `slot`, interleaved; returns where the chunks start.
    #[inline(always)]
    fn fill(slot: &mut MaybeUninit<Self>, a: &[f32; I], b: &[f32; I]) -> *const f32 {
        let p = slot.as_mut_ptr().cast::<f32>();
        let (chunks, rest) = (I / LANES, I % LANES);
        // SAFETY: chunk `c` is floats `16 c .. 16 c + 16` of the `2 I + 16` of the slot (`c` at
        // most `I / 8`); the inputs' `8 c .. 8 c + 8` (or the `rest` past the last whole chunk)
        // lie within them.
        unsafe {
            for c in 0..chunks {
                core::ptr::copy_nonoverlapping(a.as_ptr().add(LANES * c), p.add(16 * c), LANES);
                core::ptr::copy_nonoverlapping(b.as_ptr().add(LANES * c), p.add(16 * c + LANES), LANES);
            }
            if rest != 0 {
                let tail = p.add(16 * chunks);
                core::ptr::write_bytes(tail, 0, 16);
                core::ptr::copy_nonoverlapping(a.as_ptr().add(LANES * chunks), tail, rest);
                core::ptr::copy_nonoverlapping(b.as_ptr().add(LANES * chunks), tail.add(LANES), rest);
            }
        }
        p
    }
}

/// `true` when [`gemm`] computes a layer of `I` inputs: at least one whole chunk (shorter dot
/// products have an order of their own), and a tile's copies within [`PACK_MAX`].
pub(super) const fn handles<const I: usize>() -> bool {
    I >= LANES && PAIRS * size_of::<Pair<I>>() <= PACK_MAX
}

/// `zs[s] = W xs[s] + b` for the pairs of samples of `xs`, in tiles of 2 pairs (then of 1):
/// the bits of the 8-lane kernels. Returns how many samples it computed (all but an odd last one).
///
/// # Safety
///
/// The CPU has AVX-512F and AVX-512DQ; [`handles`] holds; `xs` and `zs` have the same length.
#[target_feature(enable = "avx512f,avx512dq")]
pub(super) unsafe fn gemm<const I: usize, const O: usize>(
    w: &[[f32; I]; O],
    b: &[f32; O],
    xs: &[[f32; I]],
    zs: &mut [[f32; O]],
) -> usize {
    let (pairs, _) = xs.as_chunks::<2>();
    let (z_pairs, _) = zs.as_chunks_mut::<2>();
    let (tiles, rest) = pairs.as_chunks::<PAIRS>();
    let (z_tiles, z_rest) = z_pairs.as_chunks_mut::<PAIRS>();
    for (x, z) in tiles.iter().zip(z_tiles) {
        rows::<I, O, PAIRS>(w, b, x, z);
    }
    // The pair left, if any: a tile of 1.
    const { assert!(PAIRS == 2, "the tiles left are of one pair") };
    if let (Some(x), Some(z)) = (rest.first_chunk::<1>(), z_rest.first_chunk_mut::<1>()) {
        rows::<I, O, 1>(w, b, x, z);
    }
    2 * pairs.len()
}

/// Every row of `W` for `P` pairs of samples.
#[inline(always)]
fn rows<const I: usize, const O: usize, const P: usize>(
    w: &[[f32; I]; O],
    b: &[f32; O],
    xs: &[[[f32; I]; 2]; P],
    zs: &mut [[[f32; O]; 2]; P],
) {
    let mut slots = [const { MaybeUninit::<Pair<I>>::uninit() }; P];
    let mut pairs = [core::ptr::null(); P];
    for p in 0..P {
        pairs[p] = Pair::fill(&mut slots[p], &xs[p][0], &xs[p][1]);
    }
    let mut store = |o: usize, out: &[[f32; 16]; P], r: usize| {
        for p in 0..P {
            zs[p][0][o] = out[p][r];
            zs[p][1][o] = out[p][ROWS + r];
        }
    };
    for o in (0..O - O % ROWS).step_by(ROWS) {
        // SAFETY: the pairs are filled, `I.div_ceil(8)` chunks of 16; the rows are rows of `W`.
        let out = unsafe {
            tile::<I, P, ROWS>(pairs, core::array::from_fn(|r| w[o + r].as_ptr()), &b[o..o + ROWS])
        };
        for r in 0..ROWS {
            store(o + r, &out, r);
        }
    }
    for o in O - O % ROWS..O {
        // SAFETY: as above.
        let out = unsafe { tile::<I, P, 1>(pairs, [w[o].as_ptr()], &b[o..o + 1]) };
        store(o, &out, 0);
    }
}

/// Chunk `c` of every pair into the tile: `acc + w · x`, the product rounded, then added.
///
/// # Safety
///
/// As [`tile`].
#[inline(always)]
unsafe fn step<const P: usize, const R: usize>(
    acc: &mut [[__m512; R]; P],
    pairs: [*const f32; P],
    c: usize,
    w: [__m512; R],
) {
    let mut x = [unsafe { _mm512_setzero_ps() }; P];
    // SAFETY: the CPU has AVX-512F; chunk `c` of each pair is 16 aligned floats (the caller's).
    unroll!(p < P, [0 1], {
        x[p] = unsafe { _mm512_load_ps(pairs[p].add(16 * c)) };
    });
    unroll!(r < R, [0 1 2 3 4 5 6 7], {
        unroll!(p < P, [0 1], {
            acc[p][r] = unsafe { _mm512_add_ps(acc[p][r], _mm512_mul_ps(w[r], x[p])) };
        });
    });
}

/// `R` rows for `P` pairs: `out[p][r]` is sample `2 p`'s output of row `r`, `out[p][ROWS + r]`
/// sample `2 p + 1`'s (`bias` holds the rows' `R` biases).
///
/// # Safety
///
/// The CPU has AVX-512F and DQ; each pair holds `I.div_ceil(8)` chunks of 16, 64-byte aligned;
/// each row `I` readable floats.
#[inline(always)]
unsafe fn tile<const I: usize, const P: usize, const R: usize>(
    pairs: [*const f32; P],
    rows: [*const f32; R],
    bias: &[f32],
) -> [[f32; 16]; P] {
    // SAFETY (every block): the CPU has the features; the loads are within the pairs and rows
    // (the caller's), the pairs' aligned.
    let mut acc = [[unsafe { _mm512_set1_ps(-0.0) }; R]; P];
    for c in 0..I / LANES {
        let mut w = [unsafe { _mm512_setzero_ps() }; R];
        unroll!(r < R, [0 1 2 3 4 5 6 7], {
            w[r] = unsafe { _mm512_broadcast_f32x8(_mm256_loadu_ps(rows[r].add(LANES * c))) };
        });
        unsafe { step(&mut acc, pairs, c, w) };
    }
    if !I.is_multiple_of(LANES) {
        // The last, partial chunk: weights of `-0.0` past the row (times the inputs' `+0.0`
        // padding, `-0.0`, which leaves a lane's sum as it is), as the 8-lane kernels pad it.
        let (c, mask) = (I / LANES, (1u8 << (I % LANES)) - 1);
        let mut w = [unsafe { _mm512_setzero_ps() }; R];
        unroll!(r < R, [0 1 2 3 4 5 6 7], {
            w[r] = unsafe {
                _mm512_broadcast_f32x8(_mm256_mask_loadu_ps(_mm256_set1_ps(-0.0), mask, rows[r].add(LANES * c)))
            };
        });
        unsafe { step(&mut acc, pairs, c, w) };
    }
    let mut out = [[0.0; 16]; P];
    for p in 0..P {
        for r in 0..R {
            // SAFETY: as above.
            let (low, high) = unsafe {
                let v = acc[p][r];
                (_mm512_castps512_ps256(v), _mm512_extractf32x8_ps::<1>(v))
            };
            let sum = |v: __m256| unsafe {
                reduce_halves(_mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps::<1>(v)))
            };
            out[p][r] = bias[r] + sum(low);
            out[p][ROWS + r] = bias[r] + sum(high);
        }
    }
    out
}
