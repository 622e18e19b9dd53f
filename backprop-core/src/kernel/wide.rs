//! Sixteen `f32` lanes: the unit of the `fma` feature's kernels, one AVX-512 vector (`Zmm`) or
//! two AVX2 vectors, lanes `0..8` and `8..16` (`YmmPair`), with fused multiply-add; and of the
//! exact kernels' outer products on CPUs with AVX-512F ([`ZmmExact`]), a product rounded, then
//! added. The FMA tokens compute every lane the same way (one rounding per multiply-add) and
//! reduce the 16 lanes in the same order (`Fused`), so the kernels written over them give the
//! same bits on either; [`ZmmExact`] computes what the exact kernels' 8 lanes do, lane by lane.

// AVX-512 intrinsics are stable since Rust 1.89, the workspace's minimum.
// With the instructions enabled at compile time, some intrinsics are safe to call and their
// `unsafe` blocks unneeded; in other builds they are needed.
#![allow(unused_unsafe)]

use core::arch::x86_64::*;

/// Lanes of a [`Wide`] vector.
pub(super) const LANES: usize = 16;

/// Sixteen `f32` lanes (see the module). A value is a token: it exists only where the CPU has
/// its instructions, so its methods may use them.
pub(super) trait Wide: Copy {
    /// Sixteen lanes.
    type V: Copy;
    /// A set of lanes.
    type M: Copy;
    /// 16-lane vectors that fit in the registers at once (a register tile's budget).
    const REGISTERS: usize;
    /// The lanes whose bit is set in `bits` (bit `k` for lane `k`).
    fn mask(self, bits: u32) -> Self::M;
    /// Every lane `0.0`.
    fn zero(self) -> Self::V;
    /// Every lane `v`.
    fn splat(self, v: f32) -> Self::V;
    /// Lanes `0..16` from `p`.
    ///
    /// # Safety
    ///
    /// 16 `f32`s from `p` are readable.
    unsafe fn load(self, p: *const f32) -> Self::V;
    /// The lanes of `m` from `p`; the others `0.0`, not read.
    ///
    /// # Safety
    ///
    /// The lanes of `m` are readable.
    unsafe fn load_masked(self, p: *const f32, m: Self::M) -> Self::V;
    /// Lanes `0..16` to `p`.
    ///
    /// # Safety
    ///
    /// 16 `f32`s from `p` are writable.
    unsafe fn store(self, p: *mut f32, v: Self::V);
    /// The lanes of `m` to `p`; the others not written.
    ///
    /// # Safety
    ///
    /// The lanes of `m` are writable.
    unsafe fn store_masked(self, p: *mut f32, m: Self::M, v: Self::V);
    /// `a · b`.
    fn mul(self, a: Self::V, b: Self::V) -> Self::V;
    /// `a + b`.
    fn add(self, a: Self::V, b: Self::V) -> Self::V;
    /// `c + a · b`: rounded once by the FMA tokens; by [`ZmmExact`], the product rounded, then
    /// added to `c` (`c` the first operand, as the exact kernels' `Lanes::mul_add`).
    fn mul_add(self, a: Self::V, b: Self::V, c: Self::V) -> Self::V;
    /// `c - a · b`, rounded as [`mul_add`](Wide::mul_add) is.
    fn neg_mul_add(self, a: Self::V, b: Self::V, c: Self::V) -> Self::V;
}

/// What the FMA kernels need beyond [`Wide`]: a masked multiply-add and the 16-lane reduction.
#[cfg(feature = "fma")]
pub(super) trait Fused: Wide {
    /// `a · b + c` in the lanes of `m`, `c` as it is in the others.
    fn fmadd_masked(self, a: Self::V, b: Self::V, c: Self::V, m: Self::M) -> Self::V;
    /// The sum of the 16 lanes in a fixed order: `l_k + l_{k+8}`, then `+ l_{k+4}`, `+ l_{k+2}`,
    /// and the last pair.
    fn reduce(self, v: Self::V) -> f32;
    /// [`reduce`](Fused::reduce) of the first `S · R` accumulators (`≤ 16`), the same adds.
    #[inline(always)]
    fn reduce_tile<const S: usize, const R: usize>(self, acc: [Self::V; 16]) -> [f32; 16] {
        let mut sums = [0.0; 16];
        for (sum, acc) in sums.iter_mut().zip(acc).take(S * R) {
            *sum = self.reduce(acc);
        }
        sums
    }
}

/// The 4 lanes `(e_k + e_{k+4})` of 8 reduced to one: `(q0 + q2) + (q1 + q3)`.
#[cfg(feature = "fma")]
#[inline(always)]
fn reduce_quarters(quarters: __m128) -> f32 {
    // SAFETY: every `x86_64` CPU has SSE.
    unsafe {
        let pairs = _mm_add_ps(quarters, _mm_movehl_ps(quarters, quarters));
        _mm_cvtss_f32(_mm_add_ss(pairs, _mm_shuffle_ps::<1>(pairs, pairs)))
    }
}

/// The memory operations and arithmetic of one AVX-512 vector: the methods of [`Wide`] that
/// `Zmm` and [`ZmmExact`] share.
macro_rules! zmm_lanes {
    () => {
        type V = __m512;
        type M = __mmask16;
        const REGISTERS: usize = 32;

        #[inline(always)]
        fn mask(self, bits: u32) -> __mmask16 {
            bits as __mmask16
        }
        #[inline(always)]
        fn zero(self) -> __m512 {
            unsafe { _mm512_setzero_ps() }
        }
        #[inline(always)]
        fn splat(self, v: f32) -> __m512 {
            unsafe { _mm512_set1_ps(v) }
        }
        #[inline(always)]
        unsafe fn load(self, p: *const f32) -> __m512 {
            unsafe { _mm512_loadu_ps(p) }
        }
        #[inline(always)]
        unsafe fn load_masked(self, p: *const f32, m: __mmask16) -> __m512 {
            unsafe { _mm512_maskz_loadu_ps(m, p) }
        }
        #[inline(always)]
        unsafe fn store(self, p: *mut f32, v: __m512) {
            unsafe { _mm512_storeu_ps(p, v) }
        }
        #[inline(always)]
        unsafe fn store_masked(self, p: *mut f32, m: __mmask16, v: __m512) {
            unsafe { _mm512_mask_storeu_ps(p, m, v) }
        }
        #[inline(always)]
        fn mul(self, a: __m512, b: __m512) -> __m512 {
            unsafe { _mm512_mul_ps(a, b) }
        }
        #[inline(always)]
        fn add(self, a: __m512, b: __m512) -> __m512 {
            unsafe { _mm512_add_ps(a, b) }
        }
    };
}

/// Sixteen lanes in one AVX-512 vector, the exact kernels' arithmetic: each product rounded,
/// then added. A value exists only where the CPU has AVX-512F.
#[derive(Clone, Copy)]
pub(super) struct ZmmExact(());

impl ZmmExact {
    /// The token.
    ///
    /// # Safety
    ///
    /// The CPU that runs the code using it has AVX-512F.
    #[inline(always)]
    pub(super) const unsafe fn new() -> Self {
        Self(())
    }
}

// SAFETY (every `unsafe` block below): the CPU has AVX-512F, since a value of `ZmmExact` exists
// (its contract), and the memory accessed is the caller's (the methods' contracts).
impl Wide for ZmmExact {
    zmm_lanes!();

    #[inline(always)]
    fn mul_add(self, a: __m512, b: __m512, c: __m512) -> __m512 {
        self.add(c, self.mul(a, b))
    }
    #[inline(always)]
    fn neg_mul_add(self, a: __m512, b: __m512, c: __m512) -> __m512 {
        unsafe { _mm512_sub_ps(c, _mm512_mul_ps(a, b)) }
    }
}

/// Sixteen lanes in one AVX-512 vector, with FMA. A value exists only where the CPU has
/// AVX-512F.
#[cfg(feature = "fma")]
#[derive(Clone, Copy)]
pub(super) struct Zmm(());

#[cfg(feature = "fma")]
impl Zmm {
    /// The token.
    ///
    /// # Safety
    ///
    /// The CPU that runs the code using it has AVX-512F.
    #[inline(always)]
    pub(super) const unsafe fn new() -> Self {
        Self(())
    }
}

// SAFETY (every `unsafe` block below): the CPU has AVX-512F, since a value of `Zmm` exists
// (its contract), and the memory accessed is the caller's (the methods' contracts).
#[cfg(feature = "fma")]
impl Wide for Zmm {
    zmm_lanes!();

    #[inline(always)]
    fn mul_add(self, a: __m512, b: __m512, c: __m512) -> __m512 {
        unsafe { _mm512_fmadd_ps(a, b, c) }
    }
    #[inline(always)]
    fn neg_mul_add(self, a: __m512, b: __m512, c: __m512) -> __m512 {
        unsafe { _mm512_fnmadd_ps(a, b, c) }
    }
}

#[cfg(feature = "fma")]
impl Fused for Zmm {
    #[inline(always)]
    fn fmadd_masked(self, a: __m512, b: __m512, c: __m512, m: __mmask16) -> __m512 {
        unsafe { _mm512_mask3_fmadd_ps(a, b, c, m) }
    }
    #[inline(always)]
    fn reduce(self, v: __m512) -> f32 {
        unsafe {
            let high = _mm256_castpd_ps(_mm512_extractf64x4_pd::<1>(_mm512_castps_pd(v)));
            let eighths = _mm256_add_ps(_mm512_castps512_ps256(v), high);
            reduce_quarters(_mm_add_ps(_mm256_castps256_ps128(eighths), _mm256_extractf128_ps::<1>(eighths)))
        }
    }
    /// 8 or 16 accumulators reduce together (see [`reduce_many`]), others one by one.
    #[inline(always)]
    fn reduce_tile<const S: usize, const R: usize>(self, acc: [__m512; 16]) -> [f32; 16] {
        if const { S * R == 16 } {
            reduce_many::<4>(self, acc)
        } else if const { S * R == 8 } {
            reduce_many::<2>(self, acc)
        } else {
            let mut sums = [0.0; 16];
            for (sum, acc) in sums.iter_mut().zip(acc).take(S * R) {
                *sum = self.reduce(acc);
            }
            sums
        }
    }
}

#[cfg(feature = "fma")]
/// The sums of the first `4 · GROUPS` accumulators of `acc` (8 or 16), each reduced exactly as
/// [`Fused::reduce`] does (the same four adds of the same lanes) but several in one vector: each
/// level of the tree adds two vectors holding the halves (then quarters, eighths, pairs) of two,
/// four, eight, sixteen accumulators, gathered by shuffles. That is 15 adds and 30 shuffles for
/// 16 accumulators instead of 64 and 64. `GROUPS` is 2 (8 accumulators) or 4 (16).
#[inline(always)]
fn reduce_many<const GROUPS: usize>(_: Zmm, acc: [__m512; 16]) -> [f32; 16] {
    // SAFETY (every block): the CPU has AVX-512F (the token's contract).
    // Blocks of 128 bits: `_mm512_shuffle_f32x4` picks two blocks of `a` then two of `b`.
    #[inline(always)]
    fn blocks<const LOW: i32, const HIGH: i32>(a: __m512, b: __m512) -> __m512 {
        unsafe { _mm512_add_ps(_mm512_shuffle_f32x4::<LOW>(a, b), _mm512_shuffle_f32x4::<HIGH>(a, b)) }
    }
    // Lanes within each block: `_mm512_shuffle_ps` picks two lanes of `a` then two of `b`.
    #[inline(always)]
    fn lanes<const LOW: i32, const HIGH: i32>(a: __m512, b: __m512) -> __m512 {
        unsafe { _mm512_add_ps(_mm512_shuffle_ps::<LOW>(a, b), _mm512_shuffle_ps::<HIGH>(a, b)) }
    }
    let zero = unsafe { _mm512_setzero_ps() };
    let n = 4 * GROUPS;
    // l_k + l_{k+8}: blocks (0, 1) + (2, 3), two accumulators per vector.
    let mut eighths = [zero; 8];
    for k in 0..n / 2 {
        eighths[k] = blocks::<0b01_00_01_00, 0b11_10_11_10>(acc[2 * k], acc[2 * k + 1]);
    }
    // + l_{k+4}: blocks (0, 2) + (1, 3), four per vector; block `b` of `quarters[m]` is `acc[4m + b]`.
    let mut quarters = [zero; 4];
    for m in 0..n / 4 {
        quarters[m] = blocks::<0b10_00_10_00, 0b11_01_11_01>(eighths[2 * m], eighths[2 * m + 1]);
    }
    // + l_{k+2}: lanes (0, 1) + (2, 3); block `b` of `pairs[p]` holds `acc[8p + b]`, `acc[8p + 4 + b]`.
    let pairs0 = lanes::<0b01_00_01_00, 0b11_10_11_10>(quarters[0], quarters[1]);
    let pairs1 =
        if GROUPS == 4 { lanes::<0b01_00_01_00, 0b11_10_11_10>(quarters[2], quarters[3]) } else { pairs0 };
    // The last pair: lanes (0, 2) + (1, 3); lane `4b + j` is `acc[4j + b]`.
    let sums = lanes::<0b10_00_10_00, 0b11_01_11_01>(pairs0, pairs1);
    let mut lanes_out = [0.0f32; 16];
    // SAFETY: 16 writable `f32`s.
    unsafe { _mm512_storeu_ps(lanes_out.as_mut_ptr(), sums) };
    core::array::from_fn(|i| lanes_out[4 * (i % 4) + i / 4])
}

/// Sixteen lanes in two AVX2 vectors, lanes `0..8` and `8..16`, with FMA. A value exists only
/// where the CPU has AVX2 and FMA.
#[cfg(feature = "fma")]
#[derive(Clone, Copy)]
pub(super) struct YmmPair(());

#[cfg(feature = "fma")]
impl YmmPair {
    /// The token.
    ///
    /// # Safety
    ///
    /// The CPU that runs the code using it has AVX2 and FMA.
    #[inline(always)]
    pub(super) const unsafe fn new() -> Self {
        Self(())
    }
}

/// A pair of AVX2 vectors, as one lane each does.
#[cfg(feature = "fma")]
macro_rules! pair {
    ($f:ident($($v:expr),*)) => {
        (unsafe { $f($($v.0),*) }, unsafe { $f($($v.1),*) })
    };
}

// SAFETY (every `unsafe` block below): the CPU has AVX2 and FMA, since a value of `YmmPair`
// exists (its contract), and the memory accessed is the caller's (the methods' contracts).
#[cfg(feature = "fma")]
impl Wide for YmmPair {
    type V = (__m256, __m256);
    type M = (__m256i, __m256i);
    const REGISTERS: usize = 8;

    #[inline(always)]
    fn mask(self, bits: u32) -> Self::M {
        // Lane `k` of each half all ones when bit `k` (`k + 8`) of `bits` is set.
        unsafe {
            let lanes = _mm256_setr_epi32(1, 2, 4, 8, 16, 32, 64, 128);
            let half = |bits: u32| {
                let bits = _mm256_set1_epi32((bits & 0xff) as i32);
                _mm256_cmpeq_epi32(_mm256_and_si256(bits, lanes), lanes)
            };
            (half(bits), half(bits >> 8))
        }
    }
    #[inline(always)]
    fn zero(self) -> Self::V {
        unsafe { (_mm256_setzero_ps(), _mm256_setzero_ps()) }
    }
    #[inline(always)]
    fn splat(self, v: f32) -> Self::V {
        let v = unsafe { _mm256_set1_ps(v) };
        (v, v)
    }
    #[inline(always)]
    unsafe fn load(self, p: *const f32) -> Self::V {
        unsafe { (_mm256_loadu_ps(p), _mm256_loadu_ps(p.wrapping_add(8))) }
    }
    #[inline(always)]
    unsafe fn load_masked(self, p: *const f32, m: Self::M) -> Self::V {
        unsafe { (_mm256_maskload_ps(p, m.0), _mm256_maskload_ps(p.wrapping_add(8), m.1)) }
    }
    #[inline(always)]
    unsafe fn store(self, p: *mut f32, v: Self::V) {
        unsafe {
            _mm256_storeu_ps(p, v.0);
            _mm256_storeu_ps(p.wrapping_add(8), v.1);
        }
    }
    #[inline(always)]
    unsafe fn store_masked(self, p: *mut f32, m: Self::M, v: Self::V) {
        unsafe {
            _mm256_maskstore_ps(p, m.0, v.0);
            _mm256_maskstore_ps(p.wrapping_add(8), m.1, v.1);
        }
    }
    #[inline(always)]
    fn mul_add(self, a: Self::V, b: Self::V, c: Self::V) -> Self::V {
        pair!(_mm256_fmadd_ps(a, b, c))
    }
    #[inline(always)]
    fn neg_mul_add(self, a: Self::V, b: Self::V, c: Self::V) -> Self::V {
        pair!(_mm256_fnmadd_ps(a, b, c))
    }
    #[inline(always)]
    fn mul(self, a: Self::V, b: Self::V) -> Self::V {
        pair!(_mm256_mul_ps(a, b))
    }
    #[inline(always)]
    fn add(self, a: Self::V, b: Self::V) -> Self::V {
        pair!(_mm256_add_ps(a, b))
    }
}

// SAFETY (every `unsafe` block below): as for `Wide`.
#[cfg(feature = "fma")]
impl Fused for YmmPair {
    #[inline(always)]
    fn fmadd_masked(self, a: Self::V, b: Self::V, c: Self::V, m: Self::M) -> Self::V {
        // The lanes outside `m` keep `c` exactly (a `-0.0` plus the `0.0` of a masked load would
        // become `+0.0`).
        let sum = self.mul_add(a, b, c);
        unsafe {
            (
                _mm256_blendv_ps(c.0, sum.0, _mm256_castsi256_ps(m.0)),
                _mm256_blendv_ps(c.1, sum.1, _mm256_castsi256_ps(m.1)),
            )
        }
    }
    #[inline(always)]
    fn reduce(self, v: Self::V) -> f32 {
        unsafe {
            // l_k + l_{k+8}, then + l_{k+4}, as the AVX-512 reduction.
            let eighths = _mm256_add_ps(v.0, v.1);
            reduce_quarters(_mm_add_ps(_mm256_castps256_ps128(eighths), _mm256_extractf128_ps::<1>(eighths)))
        }
    }
}

/// The mask of the `n % 16` lanes of a row's last, partial chunk.
pub(super) const fn tail_bits(n: usize) -> u32 {
    (1u32 << (n % LANES)) - 1
}

/// Chunk `c` of a row: 16 values from `p + 16 c`, or with `MASKED` the lanes of `mask` (the others
/// `0.0`, not read).
///
/// # Safety
///
/// The loaded lanes must be readable.
#[inline(always)]
pub(super) unsafe fn load<F: Wide, const MASKED: bool>(f: F, p: *const f32, c: usize, mask: F::M) -> F::V {
    // SAFETY: the caller's.
    unsafe {
        if MASKED {
            f.load_masked(p.wrapping_add(c * LANES), mask)
        } else {
            f.load(p.wrapping_add(c * LANES))
        }
    }
}

/// Stores chunk `c` of a row (with `MASKED`, the lanes of `mask` only).
///
/// # Safety
///
/// The stored lanes must be writable.
#[inline(always)]
pub(super) unsafe fn store<F: Wide, const MASKED: bool>(f: F, p: *mut f32, c: usize, mask: F::M, v: F::V) {
    // SAFETY: the caller's.
    unsafe {
        if MASKED {
            f.store_masked(p.wrapping_add(c * LANES), mask, v);
        } else {
            f.store(p.wrapping_add(c * LANES), v);
        }
    }
}
