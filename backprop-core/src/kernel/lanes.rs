//! Eight lanes of a scalar, the unit of every exact kernel, and the instruction sets that provide
//! them: [`Array`] in plain Rust for any scalar and target, SSE2 and AVX vectors of `f32` on
//! `x86_64` (`x86`). The exact kernels are written once over [`Lanes`]; every implementation does
//! the same operations lane by lane and reduces in the same order, so they give the same bits.
//!
//! Why vectors written out rather than loops for LLVM to vectorise: see "Code generation that
//! does not depend on the profile" in [`kernel`](super).

use super::LANES;
use crate::Scalar;
use core::marker::PhantomData;

/// Eight lanes of [`T`](Lanes::T), as the exact kernels compute them: a product is rounded, then
/// added; [`reduce`](Lanes::reduce) sums the lanes in one fixed order. A value of a type that
/// implements it is a token: it exists only where its instructions run (see `x86::Avx::new`).
pub(super) trait Lanes: Copy {
    /// The scalar of every lane.
    type T: Scalar;
    /// Eight lanes.
    type V: Copy;
    /// 8-lane vectors that fit in the registers at once (a register tile's budget).
    const REGISTERS: usize;
    /// Every lane `v`.
    fn splat(self, v: Self::T) -> Self::V;
    /// Lanes `0..8` from `a`.
    fn load(self, a: &[Self::T; LANES]) -> Self::V;
    /// Lanes `0..8` into `a`.
    fn store(self, v: Self::V, a: &mut [Self::T; LANES]);
    /// `a + b`, lane by lane.
    fn add(self, a: Self::V, b: Self::V) -> Self::V;
    /// `a - b`, lane by lane.
    fn sub(self, a: Self::V, b: Self::V) -> Self::V;
    /// `a · b`, lane by lane.
    fn mul(self, a: Self::V, b: Self::V) -> Self::V;
    /// `((l0 + l4) + (l2 + l6)) + ((l1 + l5) + (l3 + l7))`, the order of every dot product.
    fn reduce(self, v: Self::V) -> Self::T;

    /// `acc + a · b`: the product rounded, then added.
    #[inline(always)]
    fn mul_add(self, acc: Self::V, a: Self::V, b: Self::V) -> Self::V {
        self.add(acc, self.mul(a, b))
    }
}

/// The lanes the exact kernels use for each scalar: `f32` gets [`F32`](Isa::F32), every other
/// scalar [`Array`]. A value is a token, as for [`Lanes`].
pub(super) trait Isa: Copy {
    /// Eight lanes of `f32`.
    type F32: Lanes<T = f32>;
    /// The `f32` lanes.
    fn f32(self) -> Self::F32;
}

/// Eight lanes as an array, every operation a loop over them: any scalar, any target (LLVM
/// vectorises the loops where it can).
pub(super) struct Array<T>(PhantomData<T>);

impl<T> Clone for Array<T> {
    #[inline(always)]
    fn clone(&self) -> Self {
        *self
    }
}
impl<T> Copy for Array<T> {}

impl<T> Array<T> {
    /// The token (plain Rust runs everywhere).
    #[inline(always)]
    pub(super) const fn new() -> Self {
        Self(PhantomData)
    }
}

impl<T: Scalar> Lanes for Array<T> {
    type T = T;
    type V = [T; LANES];
    const REGISTERS: usize = 16;

    #[inline(always)]
    fn splat(self, v: T) -> [T; LANES] {
        [v; LANES]
    }
    #[inline(always)]
    fn load(self, a: &[T; LANES]) -> [T; LANES] {
        *a
    }
    #[inline(always)]
    fn store(self, v: [T; LANES], a: &mut [T; LANES]) {
        *a = v;
    }
    #[inline(always)]
    fn add(self, a: [T; LANES], b: [T; LANES]) -> [T; LANES] {
        let mut out = a;
        for i in 0..LANES {
            out[i] += b[i];
        }
        out
    }
    #[inline(always)]
    fn sub(self, a: [T; LANES], b: [T; LANES]) -> [T; LANES] {
        let mut out = a;
        for i in 0..LANES {
            out[i] -= b[i];
        }
        out
    }
    #[inline(always)]
    fn mul(self, a: [T; LANES], b: [T; LANES]) -> [T; LANES] {
        let mut out = a;
        for i in 0..LANES {
            out[i] *= b[i];
        }
        out
    }
    #[inline(always)]
    fn reduce(self, v: [T; LANES]) -> T {
        ((v[0] + v[4]) + (v[2] + v[6])) + ((v[1] + v[5]) + (v[3] + v[7]))
    }
}

/// Plain Rust for every scalar: the instruction set of targets without vectors written out.
#[derive(Clone, Copy)]
// The lanes of other targets; on x86_64 only tests use it, and not those that run under Miri.
#[cfg_attr(all(target_arch = "x86_64", any(not(test), miri)), allow(dead_code))]
pub(super) struct Plain;

impl Isa for Plain {
    type F32 = Array<f32>;
    #[inline(always)]
    fn f32(self) -> Array<f32> {
        Array::new()
    }
}

/// The instruction set every build of this target has: AVX vectors in builds with AVX enabled at
/// compile time, SSE2 ones in other `x86_64` builds, plain Rust elsewhere.
#[cfg(all(target_arch = "x86_64", target_feature = "avx"))]
pub(super) type Baseline = super::x86::Avx;
/// The instruction set every build of this target has (see the `x86_64` definitions).
#[cfg(all(target_arch = "x86_64", not(target_feature = "avx")))]
pub(super) type Baseline = super::x86::Sse2;
/// The instruction set every build of this target has (see the `x86_64` definitions).
#[cfg(not(target_arch = "x86_64"))]
pub(super) type Baseline = Plain;

/// The token of [`Baseline`].
#[inline(always)]
pub(super) fn baseline() -> Baseline {
    #[cfg(all(target_arch = "x86_64", target_feature = "avx"))]
    // SAFETY: the build enables AVX for every function, so the CPU that runs it has AVX.
    return unsafe { super::x86::Avx::new() };
    #[cfg(all(target_arch = "x86_64", not(target_feature = "avx")))]
    return super::x86::Sse2;
    #[cfg(not(target_arch = "x86_64"))]
    return Plain;
}
