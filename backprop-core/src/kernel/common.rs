//! What more than one backend uses: the row policy of an SGD step, the biases' part of the
//! batched outer products, and views of `T` data as `f32` data.

use super::SKIP_ZERO_ROWS;
use crate::Scalar;

/// The SGD part of the batched outer products: the layer's weights and biases, `1 / samples`,
/// and the learning rate.
pub(super) type Sgd<'a, T, const I: usize, const O: usize> = (&'a mut [[T; I]; O], &'a mut [T; O], T, T);

/// The operands of the batched outer products as the kernels take them: as many samples as both
/// `xs` and `deltas` hold, and the SGD step split into the weights' part and the biases'.
#[allow(clippy::type_complexity)] // the parts of `Sgd`
#[inline(always)]
pub(super) fn outer_operands<'a, 's, T: Scalar, const I: usize, const O: usize>(
    xs: &'s [[T; I]],
    deltas: &'s [[T; O]],
    sgd: Option<Sgd<'a, T, I, O>>,
) -> (&'s [[T; I]], &'s [[T; O]], Option<(&'a mut [[T; I]; O], T, T)>, Option<(&'a mut [T; O], T, T)>) {
    let n = xs.len().min(deltas.len());
    let (weights, biases) = match sgd {
        Some((w, b, scale, lr)) => (Some((w, scale, lr)), Some((b, scale, lr))),
        None => (None, None),
    };
    (&xs[..n], &deltas[..n], weights, biases)
}

/// Calls `update(row, bias, step · delta_o)` for the rows an SGD step changes, the policy of both
/// [`sgd`](super::sgd) kernels (exact and FMA): rows of at least [`SKIP_ZERO_ROWS`] inputs last to
/// first (the forward pass read the last rows last, so they may still be in L1), skipping those
/// whose scaled signal is zero; shorter rows all, in order, without a branch.
#[inline(always)]
pub(super) fn for_rows_to_update<T: Scalar, const I: usize, const O: usize>(
    w: &mut [[T; I]; O],
    b: &mut [T; O],
    delta: &[T; O],
    step: T,
    mut update: impl FnMut(&mut [T; I], &mut T, T),
) {
    // Index loops: see "Index loops" in `crate::scalar`.
    if I >= SKIP_ZERO_ROWS {
        for k in 0..O {
            let o = O - 1 - k;
            let scaled = step * delta[o];
            if scaled != T::ZERO {
                update(&mut w[o], &mut b[o], scaled);
            }
        }
    } else {
        for o in 0..O {
            update(&mut w[o], &mut b[o], step * delta[o]);
        }
    }
}

/// The biases' part of the batched outer products: `grad_b += Σ_s deltas[s]`, or with
/// `sgd = (b, scale, lr)`, `grad_b = scale · Σ` and `b -= lr · grad_b`. Exact arithmetic in every
/// backend.
#[inline(always)]
pub(super) fn outer_bias<T: Scalar, const O: usize>(
    grad_b: &mut [T; O],
    deltas: &[[T; O]],
    sgd: Option<(&mut [T; O], T, T)>,
) {
    match sgd {
        None => {
            for o in 0..O {
                grad_b[o] += column_sum(deltas, o);
            }
        }
        Some((b, scale, lr)) => {
            for o in 0..O {
                grad_b[o] = column_sum(deltas, o) * scale;
                b[o] -= lr * grad_b[o];
            }
        }
    }
}

/// `Σ_s deltas[s][o]`.
#[inline(always)]
fn column_sum<T: Scalar, const O: usize>(deltas: &[[T; O]], o: usize) -> T {
    let mut sum = -T::ZERO;
    for d in deltas {
        if let Some(&d) = d.get(o) {
            sum += d;
        }
    }
    sum
}

/// Views of `T` data as `f32` data, for the code that only `f32` takes: the exact kernels' vectors
/// and the FMA kernels.
///
/// # Safety (every function)
///
/// `T` must be `f32`, which the callers check with `T::TAG == 4` (directly, or through
/// `backend::with_backend!`; `Scalar` is sealed and only `f32` has the tag 4): then `A` and `B` are the
/// same type but for the name of the scalar, and nothing changes but the name.
pub(super) mod view {
    use crate::Scalar;

    #[inline(always)]
    pub(in crate::kernel) unsafe fn of<A, B>(a: &A) -> &B {
        debug_assert!(size_of::<A>() == size_of::<B>() && align_of::<A>() == align_of::<B>());
        // SAFETY: the module's contract.
        unsafe { &*(a as *const A).cast::<B>() }
    }

    #[inline(always)]
    pub(in crate::kernel) unsafe fn of_mut<A, B>(a: &mut A) -> &mut B {
        debug_assert!(size_of::<A>() == size_of::<B>() && align_of::<A>() == align_of::<B>());
        // SAFETY: the module's contract.
        unsafe { &mut *(a as *mut A).cast::<B>() }
    }

    #[inline(always)]
    pub(in crate::kernel) unsafe fn rows<T: Scalar, const N: usize>(a: &[[T; N]]) -> &[[f32; N]] {
        // SAFETY: the module's contract.
        unsafe { core::slice::from_raw_parts(a.as_ptr().cast(), a.len()) }
    }

    #[inline(always)]
    pub(in crate::kernel) unsafe fn rows_mut<T: Scalar, const N: usize>(a: &mut [[T; N]]) -> &mut [[f32; N]] {
        // SAFETY: the module's contract.
        unsafe { core::slice::from_raw_parts_mut(a.as_mut_ptr().cast(), a.len()) }
    }

    /// A value moved from `A` to `B` (a scalar, a flag, an `Option` of references).
    #[inline(always)]
    pub(in crate::kernel) unsafe fn value<A, B>(a: A) -> B {
        debug_assert!(size_of::<A>() == size_of::<B>() && align_of::<A>() == align_of::<B>());
        let a = core::mem::ManuallyDrop::new(a);
        // SAFETY: the module's contract; `a` is not dropped, so the value moves.
        unsafe { core::mem::transmute_copy(&*a) }
    }

    /// A scalar (exact: `T` is `f32`).
    #[inline(always)]
    pub(in crate::kernel) fn scalar<T: Scalar>(v: T) -> f32 {
        v.to_f64() as f32
    }
}
