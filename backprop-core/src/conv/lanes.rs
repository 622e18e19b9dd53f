//! Vectors of [`LANES`] lanes, the unit of work of the convolution kernels: the exact arithmetic on
//! `[T; 8]` ([`Exact`], any scalar, vectorised by LLVM for whatever the build targets), and on
//! `x86_64` the `f32` vectors of `conv::ymm`: the same exact arithmetic written in AVX2
//! (`Avx`, the same bits as [`Exact`]), and with the `fma` feature 256-bit fused multiply-adds
//! with AVX-512VL lane masks (`Fused`).
//!
//! A lane is one output position (or, for the weight gradients, one position's share of a sum), so
//! the lanes never mix but in [`Vector::sum`], whose order is fixed (that of the dense kernels:
//! `((l0 + l4) + (l2 + l6)) + ((l1 + l5) + (l3 + l7))`). A mask (`u8`, bit `l` for lane `l`) says
//! which lanes a masked load reads; the others are zero, so a tap in the padding or past the end
//! of a row adds `w · 0` to its sum: that leaves the sum as it is (but for the sign of a zero sum,
//! and the NaN of an infinite weight), needs no mask in a register for the multiply-adds, and is
//! the same on every backend.

use crate::Scalar;

/// Lanes of every vector: eight `f32` fill 256 bits.
pub(super) const LANES: usize = 8;

/// Every lane.
pub(super) const ALL: u8 = u8::MAX;

/// The first `n` lanes (all of them from [`LANES`] on).
#[inline(always)]
pub(super) fn first(n: usize) -> u8 {
    if n >= LANES { ALL } else { ((1u16 << n) - 1) as u8 }
}

/// `[f(0), f(1), ..]`: `core::array::from_fn` as a plain loop, which LLVM inlines into the kernels
/// compiled with other target features (it left `from_fn`'s closure adapter out of line there,
/// a call per use in the innermost loops).
#[inline(always)]
pub(super) fn build<X: Copy, const N: usize>(init: X, mut f: impl FnMut(usize) -> X) -> [X; N] {
    let mut a = [init; N];
    for (v, i) in a.iter_mut().zip(0..N) {
        *v = f(i);
    }
    a
}

/// Whether lane `l` is in mask `m`.
#[inline(always)]
fn has(m: u8, l: usize) -> bool {
    (m >> l) & 1 != 0
}

/// The lanes `l` of `m` whose element `off + l·s` lies inside a slice of `len`.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
pub(super) fn inside(m: u8, off: usize, s: usize, len: usize) -> u8 {
    let mut inside = 0;
    for l in 0..LANES {
        if off.wrapping_add(l.wrapping_mul(s)) < len {
            inside |= 1 << l;
        }
    }
    m & inside
}

/// A vector of [`LANES`] scalars and the arithmetic of one backend.
pub(super) trait Vector<T: Scalar>: Copy {
    /// Vector registers one vector takes (for the choice of a register tile).
    const REGISTERS: usize;
    /// Vector registers the backend has.
    const BUDGET: usize;

    /// `v` in every lane.
    fn splat(v: T) -> Self;

    /// Lane `l` = `src[off + l·s]` (`off` may have wrapped below zero), or `None` when one of them
    /// lies outside `src`.
    fn load(src: &[T], off: usize, s: usize) -> Option<Self>;

    /// The lanes of `m` as [`load`](Self::load) reads them (those outside `src` are taken as
    /// zero), the others zero; the lanes outside `m` are not read.
    fn load_masked(src: &[T], off: usize, s: usize, m: u8) -> Self;

    /// `self + a · b`, lane by lane (exact: rounded product, then rounded sum; fused: one rounding).
    fn madd(self, a: Self, b: Self) -> Self;

    /// Writes the first `dst.len()` lanes (at most [`LANES`]) to `dst`.
    fn store(self, dst: &mut [T]);

    /// The sum of the lanes, in the fixed order of the module documentation.
    fn sum(self) -> T;
}

/// The exact arithmetic, lane by lane: plain Rust on an array, which LLVM turns into vector
/// instructions (each product rounded, then added, as everywhere in the crate).
#[derive(Clone, Copy)]
pub(super) struct Exact<T>(pub(super) [T; LANES]);

impl<T: Scalar> Vector<T> for Exact<T> {
    const REGISTERS: usize = size_of::<[T; LANES]>().div_ceil(32);
    // 16 registers of 32 bytes on x86_64 with AVX2 and in NEON's 32 of 16 bytes; a core without
    // vectors (a Cortex-M's 32 `f32` registers, say) holds four vectors' worth.
    const BUDGET: usize = if cfg!(any(target_arch = "x86_64", target_arch = "aarch64")) { 16 } else { 4 };

    #[inline(always)]
    fn splat(v: T) -> Self {
        Self([v; LANES])
    }

    #[inline(always)]
    fn load(src: &[T], off: usize, s: usize) -> Option<Self> {
        if s == 1 {
            let chunk = src.get(off..off.wrapping_add(LANES))?.first_chunk::<LANES>()?;
            return Some(Self(*chunk));
        }
        let last = off.wrapping_add((LANES - 1).wrapping_mul(s));
        if off >= src.len() || last >= src.len() || last < off {
            return None;
        }
        Some(Self(build(T::ZERO, |l| {
            src.get(off.wrapping_add(l.wrapping_mul(s))).copied().unwrap_or(T::ZERO)
        })))
    }

    #[inline(always)]
    fn load_masked(src: &[T], off: usize, s: usize, m: u8) -> Self {
        if let Some(v) = Self::load(src, off, s) {
            return Self(build(T::ZERO, |l| if has(m, l) { v.0[l] } else { T::ZERO }));
        }
        Self(build(T::ZERO, |l| {
            let i = off.wrapping_add(l.wrapping_mul(s));
            if has(m, l) { src.get(i).copied().unwrap_or(T::ZERO) } else { T::ZERO }
        }))
    }

    #[inline(always)]
    fn madd(self, a: Self, b: Self) -> Self {
        let mut r = self.0;
        for ((r, &a), &b) in r.iter_mut().zip(&a.0).zip(&b.0) {
            *r += a * b;
        }
        Self(r)
    }

    #[inline(always)]
    fn store(self, dst: &mut [T]) {
        for (d, &v) in dst.iter_mut().zip(&self.0) {
            *d = v;
        }
    }

    #[inline(always)]
    fn sum(self) -> T {
        let [l0, l1, l2, l3, l4, l5, l6, l7] = self.0;
        ((l0 + l4) + (l2 + l6)) + ((l1 + l5) + (l3 + l7))
    }
}
